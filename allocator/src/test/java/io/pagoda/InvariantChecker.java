package io.pagoda;

import io.pagoda.buddy.Node;
import io.pagoda.buddy.Zone;
import io.pagoda.pcp.ThreadCaches;
import io.pagoda.region.PageDescriptors;
import io.pagoda.region.Region;

import java.util.BitSet;
import java.util.Map;

import static io.pagoda.region.PageDescriptors.ALLOCATED;
import static io.pagoda.region.PageDescriptors.CACHED;
import static io.pagoda.region.PageDescriptors.FREE;
import static io.pagoda.region.PageDescriptors.NO_FRAME;

/**
 * Checks the invariants of DESIGN.md on a quiescent allocator by walking every free list and every
 * per-thread cache through the page descriptors: conservation (free + cached + held = managed), no
 * overlap, order-k alignment, maximal merging, and that the lists, caches, their counts and the
 * descriptors agree. With a model of the blocks handed out, also checks
 * that each is an allocated head of its order and that free and allocated frames never overlap.
 */
final class InvariantChecker {

    private InvariantChecker() {
    }

    /** Checks the allocator alone. */
    static void check(PageAllocator pages) {
        check(pages, null);
    }

    /**
     * Checks the allocator against the blocks the caller holds.
     *
     * @param allocated address to order of every block handed out and not freed, or null when unknown
     */
    static void check(PageAllocator pages, Map<Long, Integer> allocated) {
        // The cache reaper is a thread of the allocator's own: keep it (and any drainer) out, then
        // hold every zone lock, so that the walk sees one state.
        ThreadCaches caches = pages.threadCaches();
        if (caches != null) {
            caches.whileDrainsPaused(() -> checkUnderZoneLocks(pages, allocated));
        } else {
            checkUnderZoneLocks(pages, allocated);
        }
    }

    private static void checkUnderZoneLocks(PageAllocator pages, Map<Long, Integer> allocated) {
        java.util.List<Zone> zones = new java.util.ArrayList<>();
        for (Node node : pages.buddySystem().nodes()) {
            zones.addAll(node.zones());
        }
        zones.forEach(zone -> zone.lock().lock());
        try {
            checkQuiescent(pages, allocated);
        } finally {
            zones.forEach(zone -> zone.lock().unlock());
        }
    }

    private static void checkQuiescent(PageAllocator pages, Map<Long, Integer> allocated) {
        Region region = pages.region();
        long managed = 0;
        long free = 0;
        long handedOut = 0;
        BitSet used = new BitSet(region.frames());
        for (Node node : pages.buddySystem().nodes()) {
            for (Zone zone : node.zones()) {
                long zoneFree = checkFreeLists(zone, used);
                require(zoneFree == zone.freeFrames(), zone, "free frames counted " + zone.freeFrames()
                        + " but lists and untouched frames hold " + zoneFree);
                require(zone.freeFrames() + zone.allocatedFrames() == zone.managedFrames(), zone,
                        "conservation: free " + zone.freeFrames() + " + allocated " + zone.allocatedFrames()
                                + " != managed " + zone.managedFrames());
                managed += zone.managedFrames();
                free += zone.freeFrames();
                handedOut += zone.allocatedFrames();
            }
        }
        if (managed != free + handedOut) {
            throw new AssertionError("conservation over all zones: " + free + " + " + handedOut + " != " + managed);
        }
        long cached = checkCaches(pages, used);
        if (allocated != null) {
            checkAllocated(pages, allocated, used, handedOut - cached);
        }
    }

    private static long checkFreeLists(Zone zone, BitSet used) {
        PageDescriptors descriptors = zone.descriptors();
        int untouched = zone.untouchedPfn();
        require(untouched >= zone.startPfn() && untouched <= zone.endPfn(), zone, "frontier " + untouched + " outside the zone");
        used.set(untouched, zone.endPfn());
        long free = zone.endPfn() - untouched;
        for (int lifetime = 0; lifetime < zone.lifetimes(); lifetime++) {
            for (int order = 0; order <= zone.maxOrder(); order++) {
                long length = 0;
                int prev = NO_FRAME;
                for (int pfn = zone.freeListHead(order, lifetime); pfn != NO_FRAME; pfn = descriptors.next(pfn)) {
                    String block = "free block " + pfn + " of order " + order;
                    require(length <= zone.managedFrames(), zone, "free list of order " + order + " has a cycle");
                    require(pfn >= zone.startPfn() && pfn + (1 << order) <= untouched, zone, block + " outside the used part of the zone");
                    require(((pfn - zone.startPfn()) & ((1 << order) - 1)) == 0, zone, block + " is not aligned to 2^" + order);
                    require(descriptors.prev(pfn) == prev, zone, block + " has prev " + descriptors.prev(pfn) + ", expected " + prev);
                    int info = descriptors.info(pfn);
                    require(info == PageDescriptors.info(FREE, order, lifetime), zone, block + " has descriptor state "
                            + PageDescriptors.state(info) + " order " + PageDescriptors.order(info));
                    require(used.nextSetBit(pfn) >= pfn + (1 << order) || used.nextSetBit(pfn) == -1, zone, block + " overlaps another free block");
                    used.set(pfn, pfn + (1 << order));
                    checkMaximallyMerged(zone, pfn, order);
                    free += 1L << order;
                    length++;
                    prev = pfn;
                }
                require(length == zone.freeListCount(order, lifetime), zone, "free list of order " + order + " holds "
                        + length + " blocks but counts " + zone.freeListCount(order, lifetime));
            }
        }
        return free;
    }

    /** Every cached block is a CACHED head of its order, overlapping nothing; returns the frames cached. */
    private static long checkCaches(PageAllocator pages, BitSet used) {
        ThreadCaches caches = pages.threadCaches();
        if (caches == null) {
            return 0;
        }
        PageDescriptors descriptors = pages.region().descriptors();
        long[] frames = {0};
        caches.forEachCachedBlock((pfn, order) -> {
            int info = descriptors.info(pfn);
            if (PageDescriptors.state(info) != CACHED || PageDescriptors.order(info) != order) {
                throw new AssertionError("cached block " + pfn + " of order " + order + " has descriptor state "
                        + PageDescriptors.state(info) + " order " + PageDescriptors.order(info));
            }
            if ((pfn & ((1 << order) - 1)) != 0) {
                throw new AssertionError("cached block " + pfn + " is not aligned to 2^" + order);
            }
            int overlap = used.nextSetBit(pfn);
            if (overlap != -1 && overlap < pfn + (1 << order)) {
                throw new AssertionError("cached block " + pfn + " of order " + order + " overlaps frame " + overlap
                        + ", which is free, cached twice, or in another cache");
            }
            used.set(pfn, pfn + (1 << order));
            frames[0] += 1L << order;
        });
        if (frames[0] != caches.cachedFrames()) {
            throw new AssertionError("the caches count " + caches.cachedFrames() + " frames but hold " + frames[0]);
        }
        return frames[0];
    }

    private static void checkMaximallyMerged(Zone zone, int pfn, int order) {
        if (order == zone.maxOrder()) {
            return;
        }
        int buddy = Zone.findBuddyPfn(pfn, order);
        if (buddy + (1 << order) > zone.endPfn()) {
            return; // a buddy that would reach past the zone's end does not exist
        }
        int info = zone.descriptors().info(buddy);
        require(!(PageDescriptors.state(info) == FREE && PageDescriptors.order(info) == order)
                        && !(buddy >= zone.untouchedPfn()), zone,
                "free block " + pfn + " and its buddy " + buddy + " are both free at order " + order);
    }

    private static void checkAllocated(PageAllocator pages, Map<Long, Integer> allocated, BitSet used, long handedOut) {
        // handedOut: frames out of the zones and not in a cache, so held by users
        Region region = pages.region();
        long frames = 0;
        for (Map.Entry<Long, Integer> block : allocated.entrySet()) {
            int pfn = region.pfn(block.getKey());
            int order = block.getValue();
            int info = region.descriptors().info(pfn);
            if (info != PageDescriptors.info(ALLOCATED, order, PageDescriptors.lifetime(info))) {
                throw new AssertionError("block " + pfn + " of order " + order + " is held but its descriptor has state "
                        + PageDescriptors.state(info) + " order " + PageDescriptors.order(info));
            }
            int overlap = used.nextSetBit(pfn);
            if (overlap != -1 && overlap < pfn + (1 << order)) {
                throw new AssertionError("held block " + pfn + " of order " + order + " overlaps frame " + overlap
                        + ", which is free or held twice");
            }
            used.set(pfn, pfn + (1 << order));
            frames += 1L << order;
        }
        if (frames != handedOut) {
            throw new AssertionError("the zones and caches count " + handedOut + " frames held by users, the holders " + frames);
        }
    }

    private static void require(boolean condition, Zone zone, String message) {
        if (!condition) {
            throw new AssertionError("zone " + zone.name() + " of node " + zone.nodeId() + ": " + message);
        }
    }
}
