package io.pagoda.agrona;

import io.pagoda.PageAllocator;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Agrona buffers from a PageAllocator, with a release that refuses what it did not hand out. */
class PagodaDirectBuffersTest {

    private PageAllocator pages;
    private PagodaDirectBuffers buffers;

    @BeforeEach
    void setUp() {
        pages = PageAllocator.builder().capacity(16L << 20).build();
        buffers = new PagodaDirectBuffers(pages);
    }

    @AfterEach
    void tearDown() {
        pages.close();
    }

    @Test
    void shouldHandOutABufferOfExactlyTheCapacityAsked() {
        UnsafeBuffer buffer = buffers.allocate(1500);
        assertEquals(1500, buffer.capacity(), "not the 1536 bytes of its size class");
        buffer.putLong(1492, 42L);
        assertEquals(42L, buffer.getLong(1492));
        buffer.verifyAlignment(); // Agrona's atomic operations need 8-byte alignment
        assertEquals(1, buffers.outstanding());
        buffers.release(buffer);
        assertEquals(0, buffers.outstanding());
    }

    @Test
    void shouldReturnAllMemoryWhenEveryBufferIsReleased() {
        List<UnsafeBuffer> out = new ArrayList<>();
        for (int capacity : new int[] {0, 1, 100, 4096, 5000, 100_000, 4 << 20, (4 << 20) + 1}) {
            UnsafeBuffer buffer = buffers.allocate(capacity);
            if (capacity > 0) {
                buffer.putByte(capacity - 1, (byte) 7);
            }
            out.add(buffer);
        }
        out.forEach(buffers::release);
        pages.trim();
        assertEquals(pages.capacity(), pages.freeBytes());
        assertEquals(0, buffers.outstanding());
    }

    @Test
    void shouldRefuseABufferFromElsewhere() {
        buffers.allocate(100);
        refuses(IllegalArgumentException.class, "heap buffer", () -> buffers.release(new UnsafeBuffer(new byte[16])));
        UnsafeBuffer direct = new UnsafeBuffer(ByteBuffer.allocateDirect(16));
        refuses(IllegalStateException.class, "never handed out here", () -> buffers.release(direct));
    }

    @Test
    void shouldRefuseASecondRelease() {
        UnsafeBuffer buffer = buffers.allocate(100);
        buffers.allocate(100); // keeps the memory from being handed out again in between
        buffers.release(buffer);
        refuses(IllegalStateException.class, "double release", () -> buffers.release(buffer));
    }

    @Test
    void shouldRefuseAnotherViewOverABufferOut() {
        UnsafeBuffer buffer = buffers.allocate(100);
        refuses(IllegalArgumentException.class, "release the buffer itself",
                () -> buffers.release(new UnsafeBuffer(buffer.addressOffset(), buffer.capacity())));
        refuses(IllegalArgumentException.class, "release the buffer itself",
                () -> buffers.release(new UnsafeBuffer(buffer, 0, 50)));
        buffers.release(buffer);
    }

    @Test
    void shouldRefuseABufferReWrappedSinceItWasHandedOut() {
        UnsafeBuffer buffer = buffers.allocate(100);
        buffer.wrap(buffer.addressOffset(), 50);
        refuses(IllegalArgumentException.class, "re-wrapped", () -> buffers.release(buffer));
        buffer.wrap(buffer.addressOffset(), 100);
        buffers.release(buffer);
    }

    @Test
    void shouldKeepTheBufferOutWhenTheAllocatorIsClosed() {
        UnsafeBuffer buffer = buffers.allocate(100);
        pages.close();
        assertThrows(IllegalStateException.class, () -> buffers.release(buffer));
        assertEquals(1, buffers.outstanding());
    }

    @Test
    void shouldRefuseANegativeCapacity() {
        refuses(IllegalArgumentException.class, "must not be negative", () -> buffers.allocate(-1));
    }

    /** The call throws, says what was wrong, and leaves the allocator and the buffers out as they were. */
    private void refuses(Class<? extends Throwable> type, String message, Executable call) {
        String before = state();
        Throwable thrown = assertThrows(type, call);
        assertTrue(thrown.getMessage().contains(message), "message: " + thrown.getMessage());
        assertEquals(before, state(), "nothing changed");
    }

    private String state() {
        return pages.buddyinfo() + " allocated=" + pages.allocatedBytes() + " cached=" + pages.cachedBytes()
                + " out=" + buffers.outstanding();
    }
}
