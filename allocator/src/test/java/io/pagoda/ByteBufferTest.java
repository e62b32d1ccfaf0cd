package io.pagoda;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Direct ByteBuffers with an explicit release, in place of ByteBuffer.allocateDirect. */
class ByteBufferTest {

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
    void shouldHandOutADirectBufferOfExactlyTheSizeAsked() {
        ByteBuffer buffer = pages.allocateBuffer(1500);
        assertTrue(buffer.isDirect());
        assertEquals(0, buffer.position());
        assertEquals(1500, buffer.limit());
        assertEquals(1500, buffer.capacity(), "not the 1536 bytes of its size class");
        assertEquals(ByteOrder.BIG_ENDIAN, buffer.order(), "as allocateDirect's");
        buffer.putLong(1492, 42L);
        assertEquals(42L, buffer.getLong(1492));
        pages.release(buffer);
        InvariantChecker.check(pages, java.util.Map.of(), java.util.Set.of());
    }

    @Test
    void shouldReleaseWhateverThePositionAndLimit() {
        ByteBuffer buffer = pages.allocateBuffer(64 * 1024);
        buffer.position(100).limit(200);
        pages.release(buffer);
        pages.trim();
        assertEquals(pages.capacity(), pages.freeBytes());
    }

    @Test
    void shouldServeBuffersOfEverySizeFromZeroToBeyondTheLargestBlock() {
        for (int size : new int[] {0, 1, 100, 4096, 5000, 100_000, 4 << 20, (4 << 20) + 1}) {
            ByteBuffer buffer = pages.allocateBuffer(size);
            assertEquals(size, buffer.capacity());
            if (size > 0) {
                buffer.put(size - 1, (byte) 7);
            }
            pages.release(buffer);
        }
        pages.trim();
        assertEquals(pages.capacity(), pages.freeBytes());
    }

    @Test
    void shouldRefuseASecondRelease() {
        ByteBuffer buffer = pages.allocateBuffer(100);
        pages.allocateBuffer(100); // keeps the object from being handed out again in between
        pages.release(buffer);
        refuses(IllegalStateException.class, "double release", () -> pages.release(buffer));
    }

    @Test
    void shouldRefuseASecondReleaseOfABufferWhoseMemoryWasHandedOutAgain() {
        ByteBuffer first = pages.allocateBuffer(100);
        pages.release(first);
        ByteBuffer second = pages.allocateBuffer(100);
        assertEquals(java.lang.foreign.MemorySegment.ofBuffer(first).address(),
                java.lang.foreign.MemorySegment.ofBuffer(second).address(), "the same memory, a new buffer");
        refuses(IllegalArgumentException.class, "double release", () -> pages.release(first));
        pages.release(second); // still the second's to release
    }

    @Test
    void shouldRefuseASliceOrADuplicate() {
        ByteBuffer buffer = pages.allocateBuffer(100);
        refuses(IllegalArgumentException.class, "slice or duplicate", () -> pages.release(buffer.duplicate()));
        refuses(IllegalArgumentException.class, "slice or duplicate", () -> pages.release(buffer.slice(0, 50)));
        refuses(IllegalStateException.class, "slice of one", () -> pages.release(buffer.slice(16, 50)));
        pages.release(buffer);
    }

    @Test
    void shouldRefuseBuffersFromElsewhere() {
        refuses(IllegalArgumentException.class, "heap buffer", () -> pages.release(ByteBuffer.allocate(100)));
        refuses(IllegalArgumentException.class, "not allocated by this allocator",
                () -> pages.release(ByteBuffer.allocateDirect(100)));
        try (PageAllocator other = PageAllocator.builder().capacity(4L << 20).build()) {
            ByteBuffer foreign = other.allocateBuffer(100);
            refuses(IllegalArgumentException.class, "not allocated by this allocator", () -> pages.release(foreign));
        }
    }

    @Test
    void shouldKeepALargeBufferThatAnIoOperationHoldsWhenItsReleaseIsRefused() throws Throwable {
        ByteBuffer buffer = pages.allocateBuffer(8 << 20); // above the largest block: a mapping of its own
        SmallObjectTest.whileAnIoOperationHolds(MemorySegment.ofBuffer(buffer),
                () -> refuses(IllegalStateException.class, "stays allocated", () -> pages.release(buffer)));
        pages.release(buffer); // still handed out: the refused release took nothing back
        assertThrows(IllegalStateException.class, () -> buffer.get(0), "unmapped once the read let go of it");
    }

    @Test
    void shouldRefuseNegativeCapacities() {
        refuses(IllegalArgumentException.class, "must not be negative", () -> pages.allocateBuffer(-1));
    }

    private void refuses(Class<? extends Throwable> type, String message, Executable call) {
        String before = pages.buddyinfo() + pages.slabs().objectBytesOut() + "/" + pages.slabs().cachedBytes();
        Throwable thrown = assertThrows(type, call);
        assertTrue(thrown.getMessage().contains(message), "message: " + thrown.getMessage());
        assertEquals(before, pages.buddyinfo() + pages.slabs().objectBytesOut() + "/" + pages.slabs().cachedBytes(),
                "nothing changed");
    }
}
