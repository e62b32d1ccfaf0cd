package io.pagoda;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The debug mode names where memory was first freed for a second release of a ByteBuffer and a
 * second free through a child allocator, as it does for a double free of a segment. Found in review.
 */
class ReviewDebugDoubleFreeTest {

    private PageAllocator pages;

    @BeforeEach
    void setUp() {
        pages = PageAllocator.builder().capacity(16L << 20).debug(true).build();
    }

    @AfterEach
    void tearDown() {
        pages.close();
    }

    @Test
    void shouldNameTheFirstReleaseOfABufferReleasedTwice() {
        ByteBuffer buffer = pages.allocateBuffer(100);
        ByteBuffer other = pages.allocateBuffer(100); // keeps the memory from being handed out again in between
        releaseOnce(buffer);
        IllegalStateException twice = assertThrows(IllegalStateException.class, () -> pages.release(buffer));
        assertTrue(twice.getMessage().contains("double release") && twice.getMessage().contains("It was freed 0x")
                && twice.getMessage().contains("releaseOnce"), twice.getMessage());
        pages.release(other);
        assertEquals("", pages.leakReport(), "the second release changed nothing");
    }

    private void releaseOnce(ByteBuffer buffer) {
        pages.release(buffer);
    }

    @Test
    void shouldNameTheFirstFreeOfASegmentFreedTwiceThroughAChild() {
        try (ChildAllocator child = pages.newChild("table", 1 << 20)) {
            MemorySegment row = child.allocate(64);
            MemorySegment other = child.allocate(64);
            freeOnce(child, row);
            IllegalArgumentException twice = assertThrows(IllegalArgumentException.class, () -> child.free(row));
            assertTrue(twice.getMessage().contains("freed already") && twice.getMessage().contains("It was freed 0x")
                    && twice.getMessage().contains("freeOnce"), twice.getMessage());
            assertEquals(64, child.usedBytes(), "nothing changed");
            child.free(other);
        }
    }

    private static void freeOnce(ChildAllocator child, MemorySegment segment) {
        child.free(segment);
    }
}
