package io.pagoda;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every bad input gets an exception that says what was wrong, and leaves the allocator exactly as
 * it was: same buddyinfo, same counters, every held block still held, invariants intact.
 */
class BadInputTest {

    private static final int PAGE = 4096;

    private PageAllocator pages;
    private final Map<Long, Integer> held = new HashMap<>();
    private long order2;
    private MemorySegment segment;

    @BeforeEach
    void setUp() {
        pages = PageAllocator.builder().capacity(4L << 20).build();
        order2 = pages.allocatePages(2);
        held.put(order2, 2);
        segment = pages.allocate(4 * PAGE); // order 2: a size that is a whole block is no slab object
        held.put(segment.address(), 2);
        long freed = pages.allocatePages(0);
        pages.freePages(freed, 0);
    }

    @AfterEach
    void tearDown() {
        pages.close();
    }

    /** Runs the bad call, checks its exception and message, and that nothing changed. */
    private <T extends Throwable> T rejects(Class<T> type, String messagePart, Executable badCall) {
        String buddyinfo = pages.buddyinfo();
        long free = pages.freeBytes();
        long allocated = pages.allocatedBytes();
        T thrown = assertThrows(type, badCall);
        assertTrue(thrown.getMessage().contains(messagePart), "message: " + thrown.getMessage());
        assertEquals(buddyinfo, pages.buddyinfo(), "free lists changed");
        assertEquals(free, pages.freeBytes());
        assertEquals(allocated, pages.allocatedBytes());
        InvariantChecker.check(pages, held);
        return thrown;
    }

    @Test
    void shouldRejectDoubleFreeOfAnAddressAndLeaveStateUnchanged() {
        long block = pages.allocatePages(1);
        long neighbour = pages.allocatePages(1); // keeps the block from merging, so its head stays free
        held.put(neighbour, 1);
        pages.freePages(block, 1);
        rejects(IllegalStateException.class, "double free", () -> pages.freePages(block, 1));
    }

    @Test
    void shouldRejectDoubleFreeOfASegmentAndLeaveStateUnchanged() {
        MemorySegment twice = pages.allocate(PAGE);
        MemorySegment neighbour = pages.allocate(PAGE);
        held.put(neighbour.address(), 0);
        pages.free(twice);
        rejects(IllegalStateException.class, "double free", () -> pages.free(twice));
    }

    @Test
    void shouldRejectSecondFreeOfABlockThatMergedAway() {
        long block = pages.allocatePages(0);
        long buddy = pages.allocatePages(0);
        pages.freePages(buddy, 0);
        pages.freePages(block, 0);
        pages.trim(); // out of the caches: block merges with its buddy, whose head is now inside a larger free block
        rejects(IllegalArgumentException.class, "not the head of an allocated block", () -> pages.freePages(buddy, 0));
    }

    @Test
    void shouldRejectDoubleFreeOfACachedBlockAndLeaveStateUnchanged() {
        long block = pages.allocatePages(0);
        pages.freePages(block, 0); // into this thread's cache
        IllegalStateException twice = rejects(IllegalStateException.class, "double free", () -> pages.freePages(block, 0));
        assertTrue(twice.getMessage().contains("per-thread cache"), twice.getMessage());
    }

    @Test
    void shouldRejectFreeOfAnAddressInsideABlock() {
        rejects(IllegalArgumentException.class, "not the head of an allocated block",
                () -> pages.freePages(order2 + PAGE, 0));
    }

    @Test
    void shouldRejectFreeOfAFrameThatWasNeverAllocated() {
        long untouched = pages.region().base() + pages.capacity() - PAGE;
        rejects(IllegalArgumentException.class, "not the head of an allocated block", () -> pages.freePages(untouched, 0));
    }

    @Test
    void shouldRejectFreeWithTheWrongOrder() {
        rejects(IllegalArgumentException.class, "allocated as order 2", () -> pages.freePages(order2, 1));
        rejects(IllegalArgumentException.class, "allocated as order 2", () -> pages.freePages(order2, 3));
    }

    @Test
    void shouldRejectFreeOfASegmentLargerThanItsBlock() {
        MemorySegment grown = pages.region().memory().asSlice(segment.address() - pages.region().base(), 8 * PAGE);
        rejects(IllegalArgumentException.class, "allocated as order 2", () -> pages.free(grown));
    }

    @Test
    void shouldRejectFreeOfASegmentLargerThanItsMapping() {
        MemorySegment large = pages.allocate(5L << 20); // above the largest block: a mapping of its own
        MemorySegment grown = large.reinterpret(64L << 20);
        rejects(IllegalArgumentException.class, "larger than the mapping", () -> pages.free(grown));
        assertEquals(large.address(), pages.memoryOf(large.address()).address(), "still allocated");
        pages.free(large);
    }

    @Test
    void shouldRejectFreeOfAnAddressOutsideTheRegion() {
        long base = pages.region().base();
        rejects(IllegalArgumentException.class, "is not the start of a frame", () -> pages.freePages(base - PAGE, 0));
        rejects(IllegalArgumentException.class, "is not the start of a frame", () -> pages.freePages(base + pages.capacity(), 0));
        rejects(IllegalArgumentException.class, "is not the start of a frame", () -> pages.freePages(0L, 0));
    }

    @Test
    void shouldRejectFreeOfAnAddressThatIsNotAFrameStart() {
        rejects(IllegalArgumentException.class, "is not the start of a frame", () -> pages.freePages(order2 + 8, 2));
    }

    @Test
    void shouldRejectFreeOfASliceThatStartsInsideABlock() {
        MemorySegment inside = segment.asSlice(PAGE, PAGE);
        rejects(IllegalArgumentException.class, "not the head of an allocated block", () -> pages.free(inside));
    }

    @Test
    void shouldRejectFreeOfASegmentFromAnotherAllocator() {
        try (PageAllocator other = PageAllocator.builder().capacity(4L << 20).build()) {
            MemorySegment foreign = other.allocate(PAGE);
            rejects(IllegalArgumentException.class, "was not allocated by this allocator", () -> pages.free(foreign));
        }
    }

    @Test
    void shouldRejectFreeOfAHeapSegment() {
        MemorySegment heap = MemorySegment.ofArray(new byte[PAGE]);
        rejects(IllegalArgumentException.class, "was not allocated by this allocator", () -> pages.free(heap));
    }

    @Test
    void shouldRejectFreeOfAnArenaSegmentAtAFrameAddress() {
        // Same address as a held block, but not a slice of the region: rejected by scope, not by address.
        MemorySegment alias = MemorySegment.ofAddress(order2).reinterpret(4 * PAGE, Arena.global(), null);
        rejects(IllegalArgumentException.class, "was not allocated by this allocator", () -> pages.free(alias));
    }

    @Test
    void shouldRejectNegativeSizesAndAlignmentsThatAreNoPowerOfTwo() {
        rejects(IllegalArgumentException.class, "must not be negative: -1", () -> pages.allocate(-1));
        rejects(IllegalArgumentException.class, "must not be negative: -1", () -> pages.allocate(-1, 4096));
        rejects(IllegalArgumentException.class, "power of two: 48", () -> pages.allocate(64, 48));
        rejects(IllegalArgumentException.class, "power of two: 0", () -> pages.allocate(64, 0));
        rejects(IllegalArgumentException.class, "larger than the largest block",
                () -> pages.allocate(64, 8L << 20));
        rejects(IllegalArgumentException.class, "larger than the page size",
                () -> pages.allocate(8L << 20, 8192));
    }

    @Test
    void shouldRejectAUsableSizeQueryForMoreThanTheAddressSpaceAsAllocateDoes() {
        rejects(IllegalArgumentException.class, "more than a process's address space", () -> pages.allocate(Long.MAX_VALUE));
        rejects(IllegalArgumentException.class, "more than a process's address space", () -> pages.usableSize(Long.MAX_VALUE));
        rejects(IllegalArgumentException.class, "more than a process's address space", () -> pages.usableSize(Long.MAX_VALUE, 16));
    }

    @Test
    void shouldRejectOrdersOutsideZeroToMaxOrder() {
        rejects(IllegalArgumentException.class, "order -1 is outside [0, 10]", () -> pages.allocatePages(-1));
        rejects(IllegalArgumentException.class, "order 11 is outside [0, 10]", () -> pages.allocatePages(11));
        rejects(IllegalArgumentException.class, "order 11 is outside [0, 10]", () -> pages.freePages(order2, 11));
    }

    @Test
    void shouldRejectNullSegment() {
        rejects(NullPointerException.class, "segment", () -> pages.free(null));
    }

    @Test
    void shouldRejectEveryOperationAfterClose() {
        pages.close();
        for (Executable call : new Executable[] {
                () -> pages.allocatePages(0), () -> pages.allocate(PAGE), () -> pages.freePages(order2, 2),
                () -> pages.free(segment), () -> pages.buddyinfo(), () -> pages.freeBytes()}) {
            IllegalStateException closed = assertThrows(IllegalStateException.class, call);
            assertTrue(closed.getMessage().contains("closed"), closed.getMessage());
        }
    }

    @Test
    void shouldReportClosedBeforeCheckingArguments() {
        pages.close();
        for (Executable call : new Executable[] {
                () -> pages.allocatePages(99), () -> pages.freePages(order2, 99), () -> pages.allocate(0),
                () -> pages.freePages(0L, 0), () -> pages.allocate(64, 3)}) {
            IllegalStateException closed = assertThrows(IllegalStateException.class, call);
            assertTrue(closed.getMessage().contains("closed"), closed.getMessage());
        }
    }

    @Test
    void shouldRejectFreeOfAFreeBlockThatWasNeverHandedOut() {
        long large = pages.allocatePages(4);
        held.put(large, 4);
        long neverHandedOut = large + 16L * PAGE; // the upper half left free by the split
        IllegalStateException free = rejects(IllegalStateException.class, "already free", () -> pages.freePages(neverHandedOut, 4));
        assertTrue(free.getMessage().contains("never handed out"), free.getMessage());
    }

    @Test
    void shouldMakeSegmentsInaccessibleAfterClose() {
        segment.set(java.lang.foreign.ValueLayout.JAVA_INT, 0, 7);
        pages.close();
        assertThrows(IllegalStateException.class, () -> segment.get(java.lang.foreign.ValueLayout.JAVA_INT, 0));
    }

    @Test
    void shouldIgnoreASecondClose() {
        pages.close();
        pages.close();
        assertTrue(pages.toString().contains("closed"));
    }
}
