package io.pagoda;

import io.pagoda.buddy.Lifetimes;
import io.pagoda.buddy.Zone;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Grouping by lifetime (the kernel's grouping by mobility): pageblocks of one type, fallback to
 * other types when one runs dry, claiming whole pageblocks, and what it buys against
 * fragmentation. The caches are off, so that every call reaches the zone.
 */
class LifetimeGroupingTest {

    private static final int PAGE = 4096;
    private static final int PAGEBLOCK_FRAMES = 512;
    private static final long MAX_BLOCK = (long) PAGE << 10;

    private PageAllocator pages;
    private Zone zone;

    private void allocator(long capacity, boolean grouped) {
        pages = PageAllocator.builder().capacity(capacity).cachedOrders(0).groupByLifetime(grouped).minFreeBytes(0).build();
        zone = pages.buddySystem().nodes().get(0).zones().get(0);
    }

    @AfterEach
    void close() {
        if (pages != null) {
            pages.close();
        }
    }

    private int pfn(long address) {
        return pages.region().pfn(address);
    }

    private int pageblockTypeAt(long address) {
        return zone.pageblockType(pfn(address));
    }

    /** Fills the two pageblocks of one max-order block with order-0 blocks of one lifetime, in address order. */
    private List<Long> fillOneMaxBlock(Lifetime lifetime) {
        List<Long> frames = new ArrayList<>();
        for (int i = 0; i < 2 * PAGEBLOCK_FRAMES; i++) {
            frames.add(pages.allocatePages(0, lifetime));
        }
        return frames;
    }

    @Test
    void shouldKeepLongLivedBlocksInPageblocksOfTheirOwn() {
        allocator(4 * MAX_BLOCK, true);
        long shortLived = pages.allocatePages(0);
        long longLived = pages.allocatePages(0, Lifetime.LONG_LIVED);
        long secondLongLived = pages.allocatePages(0, Lifetime.LONG_LIVED);
        assertNotEquals(pfn(shortLived) / PAGEBLOCK_FRAMES, pfn(longLived) / PAGEBLOCK_FRAMES);
        assertEquals(pfn(longLived) / PAGEBLOCK_FRAMES, pfn(secondLongLived) / PAGEBLOCK_FRAMES, "long-lived blocks share their pageblock");
        assertEquals(Lifetimes.SHORT_LIVED, pageblockTypeAt(shortLived));
        assertEquals(Lifetimes.LONG_LIVED, pageblockTypeAt(longLived));
        InvariantChecker.check(pages);
    }

    @Test
    void shouldMixEveryLifetimeInOnePageblockWhenGroupingIsOff() {
        allocator(4 * MAX_BLOCK, false);
        long shortLived = pages.allocatePages(0);
        long longLived = pages.allocatePages(0, Lifetime.LONG_LIVED);
        assertEquals(shortLived + PAGE, longLived, "the buddy of the first frame, whatever its lifetime");
        InvariantChecker.check(pages);
    }

    @Test
    void shouldClaimAFreePageblockOfAnotherTypeBeforeTouchingFreshMemory() {
        allocator(4 * MAX_BLOCK, true);
        pages.freePages(pages.allocatePages(9), 9); // the first max-order block: carved, short-lived, free again
        int frontier = zone.untouchedPfn();
        long longLived = pages.allocatePages(0, Lifetime.LONG_LIVED);
        assertEquals(frontier, zone.untouchedPfn(), "no fresh memory touched");
        assertTrue(pfn(longLived) < frontier);
        assertEquals(2, zone.counters().pageblocksClaimed(), "both pageblocks of the free max-order block");
        assertEquals(Lifetimes.LONG_LIVED, pageblockTypeAt(longLived));
        InvariantChecker.check(pages);
    }

    @Test
    void shouldClaimEveryPageblockALongLivedAllocationTakesMemoryFrom() {
        allocator(MAX_BLOCK, true);
        List<Long> frames = fillOneMaxBlock(Lifetime.SHORT_LIVED);
        for (int i = 0; i < 10; i++) { // a pageblock almost all in use
            pages.freePages(frames.get(i), 0);
        }
        long longLived = pages.allocatePages(0, Lifetime.LONG_LIVED);
        assertEquals(0, pfn(longLived) / PAGEBLOCK_FRAMES);
        assertEquals(Lifetimes.LONG_LIVED, zone.pageblockType(0), "the pageblock changed hands with its free blocks");
        assertEquals(Lifetimes.SHORT_LIVED, zone.pageblockType(PAGEBLOCK_FRAMES));
        assertEquals(1, zone.counters().pageblocksClaimed());
        assertEquals(1, zone.counters().fallbacks());
        InvariantChecker.check(pages);
    }

    @Test
    void shouldLetALargeShortLivedAllocationClaimAPageblockThatIsMostlyFree() {
        allocator(MAX_BLOCK, true);
        List<Long> frames = fillOneMaxBlock(Lifetime.LONG_LIVED);
        for (int i = 0; i < 320; i++) { // more than half of the first pageblock
            pages.freePages(frames.get(i), 0);
        }
        long shortLived = pages.allocatePages(4); // 16 frames: large enough to claim (order >= 9 / 2)
        assertEquals(Lifetimes.SHORT_LIVED, pageblockTypeAt(shortLived));
        assertEquals(1, zone.counters().pageblocksClaimed());
        InvariantChecker.check(pages);
    }

    @Test
    void shouldLetALargeShortLivedAllocationBorrowFromAPageblockMostlyInUse() {
        allocator(MAX_BLOCK, true);
        List<Long> frames = fillOneMaxBlock(Lifetime.LONG_LIVED);
        for (int i = 0; i < 32; i++) {
            pages.freePages(frames.get(i), 0);
        }
        long shortLived = pages.allocatePages(4);
        assertEquals(Lifetimes.LONG_LIVED, pageblockTypeAt(shortLived), "a pageblock mostly in use keeps its type");
        assertEquals(0, zone.counters().pageblocksClaimed());
        assertEquals(1, zone.counters().fallbacks());
        InvariantChecker.check(pages);
    }

    @Test
    void shouldLetSmallShortLivedBlocksBorrowRatherThanClaim() {
        allocator(MAX_BLOCK, true);
        List<Long> frames = fillOneMaxBlock(Lifetime.LONG_LIVED);
        for (int i = 0; i < 300; i++) {
            pages.freePages(frames.get(i), 0);
        }
        long shortLived = pages.allocatePages(0);
        assertEquals(Lifetimes.LONG_LIVED, pageblockTypeAt(shortLived), "it comes back soon: the pageblock stays long-lived");
        assertEquals(0, zone.counters().pageblocksClaimed());
        assertEquals(1, zone.counters().fallbacks());
        InvariantChecker.check(pages);
    }

    @Test
    void shouldGiveABlockMergedPastAPageblockOneTypeThroughout() {
        allocator(MAX_BLOCK, true);
        long shortLived = pages.allocatePages(9);                        // first half, short-lived
        long longLived = pages.allocatePages(9, Lifetime.LONG_LIVED);    // claims the free second half
        assertEquals(Lifetimes.LONG_LIVED, pageblockTypeAt(longLived));
        pages.freePages(longLived, 9);
        pages.freePages(shortLived, 9); // merges with the long-lived half into one max-order block
        assertEquals(Lifetimes.SHORT_LIVED, pageblockTypeAt(longLived));
        assertEquals("Node 0, zone   Normal      0      0      0      0      0      0      0      0      0      0      1 \n",
                pages.buddyinfo());
        InvariantChecker.check(pages);
    }

    @Test
    void shouldReportFreeBlocksPerLifetimeAndPageblocksPerLifetimeAsPagetypeinfoDoes() {
        allocator(2 * MAX_BLOCK, true);
        pages.allocatePages(0, Lifetime.LONG_LIVED);
        String report = pages.pagetypeinfo();
        assertTrue(report.startsWith("Page block order: 9\nPages per block:  512\n\n"), report);
        assertTrue(report.contains("Node    0, zone   Normal, type    LongLived      1      1      1      1      1      1      1      1      1      1      0 \n"), report);
        assertTrue(report.contains("Node    0, zone   Normal, type    Untouched      0      0      0      0      0      0      0      0      0      0      1 \n"), report);
        assertTrue(report.contains("Node 0, zone   Normal            0            2            0            0            2 \n"), report);
    }

    @Test
    void shouldCountFreeMemoryInBlocksTooSmallAsUnusable() {
        allocator(MAX_BLOCK, true);
        assertEquals(0.0, pages.unusableIndex(10), "all free memory is one max-order block");
        List<Long> frames = fillOneMaxBlock(Lifetime.SHORT_LIVED);
        for (int i = 0; i < frames.size(); i += 2) {
            pages.freePages(frames.get(i), 0); // every other frame: 512 free frames, no two buddies
        }
        assertEquals(0.0, pages.unusableIndex(0));
        assertEquals(1.0, pages.unusableIndex(1), "no free block of two frames");
        assertTrue(pages.unusableIndex().startsWith("Node 0, zone   Normal 0.000 1.000 1.000 "), pages.unusableIndex());
    }

    @Test
    void shouldLeaveFarMoreOrder9BlocksAfterABurstWhenGroupingIsOn() {
        int grouped = order9BlocksLeftAfterBurst(true);
        int mixed = order9BlocksLeftAfterBurst(false);
        assertTrue(grouped >= 4 * Math.max(1, mixed), "grouped " + grouped + " order-9 blocks, mixed " + mixed);
    }

    /**
     * Fills a 256 MiB allocator to 90% with blocks of 4 to 32 KiB, one in eight long-lived, in a
     * fixed random order; frees the short-lived ones; counts the 2 MiB blocks it can then get.
     */
    private int order9BlocksLeftAfterBurst(boolean grouped) {
        allocator(64 * MAX_BLOCK, grouped);
        Random random = new Random(42);
        List<long[]> shortLived = new ArrayList<>();
        while (pages.freeBytes() > pages.capacity() / 10) {
            int order = random.nextInt(4);
            boolean longLived = random.nextInt(8) == 0;
            long address = pages.allocatePages(order, longLived ? Lifetime.LONG_LIVED : Lifetime.SHORT_LIVED);
            if (!longLived) {
                shortLived.add(new long[] {address, order});
            }
        }
        shortLived.forEach(block -> pages.freePages(block[0], (int) block[1]));
        InvariantChecker.check(pages);
        int blocks = 0;
        try {
            while (true) {
                pages.allocatePages(9);
                blocks++;
            }
        } catch (OutOfPagesException exhausted) {
            // as many as there were
        }
        pages.close();
        pages = null;
        return blocks;
    }
}
