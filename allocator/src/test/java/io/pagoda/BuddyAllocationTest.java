package io.pagoda;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Split, merge, alignment and exhaustion of the buddy core, seen through the public API with the
 * per-thread caches turned off, so that every call reaches the zone.
 */
class BuddyAllocationTest {

    private static final int PAGE = 4096;
    private static final long MAX_BLOCK = PAGE << 10;

    private PageAllocator pages;

    private PageAllocator allocator(long capacity) {
        pages = PageAllocator.builder().capacity(capacity).cachedOrders(0).minFreeBytes(0).build();
        return pages;
    }

    @AfterEach
    void close() {
        if (pages != null) {
            pages.close();
        }
    }

    @Test
    void shouldReportEveryFrameFreeAsMaxOrderBlocksWhenNew() {
        allocator(4 * MAX_BLOCK);
        assertEquals("Node 0, zone   Normal      0      0      0      0      0      0      0      0      0      0      4 \n",
                pages.buddyinfo());
        assertEquals(4 * MAX_BLOCK, pages.freeBytes());
        InvariantChecker.check(pages);
    }

    @Test
    void shouldSplitAMaxOrderBlockLeavingOneFreeBlockPerLowerOrder() {
        allocator(2 * MAX_BLOCK);
        pages.allocatePages(0);
        // expand: 1024 = 1 (handed out) + 1 + 2 + 4 + ... + 512, one free block of each order 0..9
        assertEquals("Node 0, zone   Normal      1      1      1      1      1      1      1      1      1      1      1 \n",
                pages.buddyinfo());
        InvariantChecker.check(pages);
    }

    @Test
    void shouldServeTheLowerHalfFirstSoThatSplitsStayTogether() {
        allocator(MAX_BLOCK);
        long first = pages.allocatePages(0);
        long second = pages.allocatePages(0);
        assertEquals(first + PAGE, second, "the buddy of the first frame is the next one handed out");
    }

    @Test
    void shouldMergeBuddiesBackToMaxOrderAfterFreeingAll() {
        allocator(2 * MAX_BLOCK);
        Map<Long, Integer> held = new HashMap<>();
        for (int order = 0; order <= 9; order++) {
            held.put(pages.allocatePages(order), order);
        }
        InvariantChecker.check(pages, held);
        held.forEach(pages::freePages);
        assertEquals("Node 0, zone   Normal      0      0      0      0      0      0      0      0      0      0      2 \n",
                pages.buddyinfo());
        InvariantChecker.check(pages);
    }

    @Test
    void shouldNotMergeABlockWithABuddyThatIsStillAllocated() {
        allocator(MAX_BLOCK);
        long a = pages.allocatePages(0);
        long b = pages.allocatePages(0);
        pages.freePages(a, 0);
        // a's buddy b is held: a stays an order-0 block
        assertTrue(pages.buddyinfo().startsWith("Node 0, zone   Normal      1 "), pages.buddyinfo());
        pages.freePages(b, 0);
        assertEquals(MAX_BLOCK, pages.freeBytes());
        InvariantChecker.check(pages);
    }

    @Test
    void shouldAlignEveryBlockOfOrderKToItsOwnSize() {
        allocator(8 * MAX_BLOCK);
        for (int round = 0; round < 3; round++) {
            for (int order = 0; order <= pages.maxOrder(); order++) {
                long address = pages.allocatePages(order);
                assertEquals(0, address % pages.blockSize(order), "order " + order + " block at " + address);
            }
        }
    }

    @Test
    void shouldServeTheSmallestOrderThatHoldsTheSize() {
        allocator(MAX_BLOCK);
        assertEquals(0, pages.orderForSize(1));
        assertEquals(0, pages.orderForSize(PAGE));
        assertEquals(1, pages.orderForSize(PAGE + 1));
        assertEquals(4, pages.orderForSize(64 * 1024));
        assertEquals(10, pages.orderForSize(MAX_BLOCK));
        MemorySegment segment = pages.allocate(4 * PAGE + 1); // above the size classes: a block
        assertEquals(4 * PAGE + 1, segment.byteSize(), "the segment has the size asked for, not the block's");
        assertEquals(MAX_BLOCK - 8 * PAGE, pages.freeBytes(), "an order-3 block was taken (exact runs are off)");
    }

    @Test
    void shouldHandOutUsableMemoryInEveryByteOfTheBlock() {
        allocator(MAX_BLOCK);
        MemorySegment segment = pages.allocate(64 * 1024);
        segment.fill((byte) 0x5A);
        for (long i = 0; i < segment.byteSize(); i++) {
            assertEquals((byte) 0x5A, segment.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i));
        }
        pages.free(segment);
    }

    @Test
    void shouldHandOutEveryFrameOfAZoneWhoseSizeIsNotAMultipleOfTheMaxBlock() {
        long frames = 1024 + 512 + 4 + 1; // one max block, then a tail of orders 9, 2 and 0
        allocator(frames * PAGE);
        assertEquals("Node 0, zone   Normal      1      0      1      0      0      0      0      0      0      1      1 \n",
                pages.buddyinfo());
        List<Long> held = new ArrayList<>();
        while (true) {
            try {
                held.add(pages.allocatePages(0));
            } catch (OutOfPagesException exhausted) {
                break;
            }
        }
        assertEquals(frames, held.size());
        assertEquals(frames, held.stream().distinct().count(), "no frame handed out twice");
        held.forEach(address -> pages.freePages(address, 0));
        assertEquals(frames * PAGE, pages.freeBytes());
        InvariantChecker.check(pages);
    }

    @Test
    void shouldTreatABuddyThatWouldReachPastTheZonesEndAsAbsent() {
        allocator(3 * PAGE); // blocks: order 1 at frame 0, order 0 at frame 2
        long first = pages.allocatePages(0);
        pages.freePages(first, 0); // merges back to order 1; its order-1 buddy [2, 4) would cross the end
        assertEquals("Node 0, zone   Normal      1      1      0      0      0      0      0      0      0      0      0 \n",
                pages.buddyinfo());
        InvariantChecker.check(pages);
    }

    @Test
    void shouldFailWithBuddyinfoWhenNoBlockIsLargeEnough() {
        allocator(MAX_BLOCK);
        pages.allocatePages(10);
        OutOfPagesException failure = assertThrows(OutOfPagesException.class, () -> pages.allocatePages(0));
        assertEquals(0, failure.order());
        assertTrue(failure.buddyinfo().startsWith("Node 0, zone   Normal"), failure.buddyinfo());
        assertTrue(failure.getMessage().contains("no free block of order 0"), failure.getMessage());
        InvariantChecker.check(pages);
    }

    @Test
    void shouldFailALargeOrderWhenFreeMemoryIsFragmented() {
        allocator(MAX_BLOCK);
        List<Long> frames = new ArrayList<>();
        for (int i = 0; i < 1024; i++) {
            frames.add(pages.allocatePages(0));
        }
        for (int i = 0; i < frames.size(); i += 2) {
            pages.freePages(frames.get(i), 0); // every other frame: half the memory free, no two frames adjacent
        }
        assertEquals(MAX_BLOCK / 2, pages.freeBytes());
        OutOfPagesException failure = assertThrows(OutOfPagesException.class, () -> pages.allocatePages(1));
        assertTrue(failure.buddyinfo().contains("   512 "), failure.buddyinfo());
        InvariantChecker.check(pages);
    }

    @Test
    void shouldServeAgainAsSoonAsMemoryIsFreedAfterAFailure() {
        allocator(MAX_BLOCK);
        long whole = pages.allocatePages(10);
        assertThrows(OutOfPagesException.class, () -> pages.allocatePages(3));
        pages.freePages(whole, 10);
        long block = pages.allocatePages(3);
        assertEquals(whole, block);
        InvariantChecker.check(pages);
    }

    @Test
    void shouldWorkWithLargerPages() {
        pages = PageAllocator.builder().capacity(64L << 20).pageSize(64 * 1024).maxOrder(4).cachedOrders(0).build();
        assertEquals(64 * 1024, pages.pageSize());
        assertEquals(1L << 20, pages.blockSize(4));
        MemorySegment segment = pages.allocate(100_000);
        assertEquals(0, segment.address() % (128 * 1024), "order-1 block of 64 KiB pages is 128 KiB aligned");
        pages.free(segment);
        InvariantChecker.check(pages);
    }
}
