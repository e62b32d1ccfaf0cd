package io.pagoda.agrona;

import io.pagoda.PageAllocator;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** UnsafeBuffer views over exactly a segment's memory. */
class AgronaBuffersTest {

    private PageAllocator pages;

    @BeforeEach
    void setUp() {
        pages = PageAllocator.builder().capacity(16L << 20).build();
    }

    @AfterEach
    void tearDown() {
        pages.close();
    }

    @Test
    void shouldReadAndWriteTheSegmentsBytes() {
        MemorySegment segment = pages.allocate(64);
        UnsafeBuffer view = AgronaBuffers.wrap(segment);

        view.putLong(8, 0x1122334455667788L);
        assertEquals(0x1122334455667788L, segment.get(ValueLayout.JAVA_LONG, 8), "both in the native order");
        segment.set(ValueLayout.JAVA_LONG, 16, -42L);
        assertEquals(-42L, view.getLong(16));

        int written = view.putStringAscii(24, "pagoda");
        assertEquals(Integer.BYTES + 6, written);
        assertEquals(6, segment.get(ValueLayout.JAVA_INT, 24), "Agrona's length prefix");
        assertArrayEquals("pagoda".getBytes(StandardCharsets.US_ASCII),
                segment.asSlice(28, 6).toArray(ValueLayout.JAVA_BYTE));
        assertEquals("pagoda", view.getStringAscii(24));
        pages.free(segment);
    }

    @Test
    void shouldCoverExactlyTheSegment() {
        MemorySegment segment = pages.allocate(1500);
        UnsafeBuffer view = AgronaBuffers.wrap(segment);
        assertEquals(segment.byteSize(), view.capacity(), "the size asked, not the 1536 of its size class");
        assertEquals(segment.address(), view.addressOffset());
        view.putLong(1492, 7L);
        assertThrows(IndexOutOfBoundsException.class, () -> view.putLong(1493, 7L), "Agrona's bounds check");
        pages.free(segment);
    }

    @Test
    void shouldRefuseAHeapSegment() {
        refuses(IllegalArgumentException.class, "heap segment", () -> AgronaBuffers.wrap(MemorySegment.ofArray(new byte[16])));
    }

    @Test
    void shouldRefuseASegmentLargerThanAnAgronaBuffer() {
        MemorySegment huge = MemorySegment.NULL.reinterpret(Integer.MAX_VALUE + 1L); // never touched
        refuses(IllegalArgumentException.class, "larger than an Agrona buffer", () -> AgronaBuffers.wrap(huge));
    }

    @Test
    void shouldRefuseAReadOnlySegment() {
        MemorySegment segment = pages.allocate(64);
        refuses(IllegalArgumentException.class, "read-only", () -> AgronaBuffers.wrap(segment.asReadOnly()));
        pages.free(segment);
    }

    @Test
    void shouldRefuseASegmentWhoseScopeIsClosed() {
        MemorySegment segment;
        try (Arena arena = Arena.ofConfined()) {
            segment = arena.allocate(64);
        }
        refuses(IllegalStateException.class, "scope is closed", () -> AgronaBuffers.wrap(segment));
    }

    private static void refuses(Class<? extends Throwable> type, String message, Executable call) {
        Throwable thrown = assertThrows(type, call);
        assertTrue(thrown.getMessage().contains(message), "message: " + thrown.getMessage());
    }
}
