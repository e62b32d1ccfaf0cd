package io.pagoda;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** ByteBuffers at the edges of what a ByteBuffer can be, found in review. */
class ReviewByteBufferTest {

    /** The JDK wraps at most this many bytes as a ByteBuffer (its conservative array limit). */
    private static final int LARGEST_BUFFER = Integer.MAX_VALUE - 8;

    @Test
    void shouldRefuseACapacityNoByteBufferCanHaveAndAllocateNothing() {
        // The debug mode records every allocation, a mapping's too: the leak report shows one left behind.
        try (PageAllocator pages = PageAllocator.builder().capacity(16L << 20).debug(true).build()) {
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                    () -> pages.allocateBuffer(Integer.MAX_VALUE));
            assertTrue(refused.getMessage().contains(String.valueOf(Integer.MAX_VALUE))
                    && refused.getMessage().contains(String.valueOf(LARGEST_BUFFER)), refused.getMessage());
            assertEquals("", pages.leakReport(), "no mapping allocated for the buffer refused");
        }
    }

    @Test
    void shouldServeTheLargestCapacityAByteBufferCanHave() {
        try (PageAllocator pages = PageAllocator.builder().capacity(16L << 20).build()) {
            ByteBuffer buffer = pages.allocateBuffer(LARGEST_BUFFER);
            assertEquals(LARGEST_BUFFER, buffer.capacity());
            buffer.put(LARGEST_BUFFER - 1, (byte) 7);
            pages.release(buffer);
            assertThrows(IllegalStateException.class, () -> pages.release(buffer), "a second release");
        }
    }
}
