package io.pagoda;

import io.pagoda.buddy.Lifetimes;
import io.pagoda.buddy.Node;
import io.pagoda.buddy.Zone;
import io.pagoda.pcp.ThreadCaches;
import io.pagoda.region.PageDescriptors;
import io.pagoda.region.Region;
import io.pagoda.slab.SizeClasses;
import io.pagoda.slab.Slabs;

import java.util.BitSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

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
        check(pages, allocated, allocated == null ? null : Set.of());
    }

    /**
     * Checks the allocator against the blocks and slab objects the caller holds.
     *
     * @param allocated address to order of every page block handed out and not freed, or null when unknown
     * @param objects   address of every slab object handed out and not freed, or null when unknown
     */
    static void check(PageAllocator pages, Map<Long, Integer> allocated, Set<Long> objects) {
        // The cache reaper and the reclaimer are threads of the allocator's own: keep out the
        // drainers, then the reclaimer's shrinker (it releases empty slabs under the class locks
        // alone, and a walk of the slabs beside it saw a slab on a partial list no longer a slab),
        // then hold every zone lock, so that the walk sees one state. Class locks before zone
        // locks, the allocator's order: taken the other way round, the walk and a slab being
        // released each waited for the other's lock for ever.
        List<ThreadCaches> caches = pages.threadCaches();
        pages.slabs().whileDrainsPaused(() -> whileDrainsPaused(caches, 0, () -> pages.slabs().whileClassesLocked(
                () -> checkUnderZoneLocks(pages, allocated, objects))));
    }

    /** Runs audit with the drains of every node's caches, from index on, paused. */
    private static void whileDrainsPaused(List<ThreadCaches> caches, int index, Runnable audit) {
        if (index == caches.size()) {
            audit.run();
        } else {
            caches.get(index).whileDrainsPaused(() -> whileDrainsPaused(caches, index + 1, audit));
        }
    }

    /**
     * Checks the allocator against everything the caller holds, given by address alone: each
     * address is a slab object if it lies in a slab, else a block of the order its head says.
     * (Large mappings, outside the region, are left out.)
     */
    static void checkHolding(PageAllocator pages, java.util.Collection<Long> live) {
        Set<Long> objects = new HashSet<>();
        Map<Long, Integer> blocks = new HashMap<>();
        Region region = pages.region();
        for (long address : live) {
            long offset = address - region.base();
            if (offset < 0 || offset >= pages.capacity()) {
                continue;
            }
            if (pages.slabs().objectSizeAt(offset) > 0) {
                objects.add(address);
            } else {
                blocks.put(address, PageDescriptors.order(region.descriptors().info(region.pfn(address))));
            }
        }
        check(pages, blocks, objects);
    }

    private static void checkUnderZoneLocks(PageAllocator pages, Map<Long, Integer> allocated, Set<Long> objects) {
        java.util.List<Zone> zones = new java.util.ArrayList<>();
        for (Node node : pages.buddySystem().nodes()) {
            zones.addAll(node.zones());
        }
        zones.forEach(zone -> zone.lock().lock());
        try {
            checkQuiescent(pages, allocated, objects);
        } finally {
            zones.forEach(zone -> zone.lock().unlock());
        }
    }

    private static void checkQuiescent(PageAllocator pages, Map<Long, Integer> allocated, Set<Long> objects) {
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
        long slabFrames = checkSlabs(pages, used, objects);
        if (allocated != null) {
            checkAllocated(pages, allocated, used, handedOut - cached - slabFrames);
        }
    }

    /**
     * Every slab (found by its flagged head in the descriptor table) has consistent slab words, a
     * free list of marked objects that with inuse makes its object count, and sits on its class's
     * partial list exactly when it has a free object; every object in a magazine is a marked free
     * object of a slab of its class, held once; objects out of the slabs = magazines + users.
     * Returns the frames the slabs occupy.
     */
    private static long checkSlabs(PageAllocator pages, BitSet used, Set<Long> objects) {
        Region region = pages.region();
        PageDescriptors descriptors = region.descriptors();
        NodeSlabs slabs = pages.slabs();
        SizeClasses classes = slabs.classes();
        int shift = region.pageShift();
        Set<Integer> partial = new HashSet<>();
        slabs.forEachPartialSlab((head, sizeClass) -> {
            if (!partial.add((int) head)) {
                throw new AssertionError("slab " + head + " is twice on the partial lists");
            }
        });
        Set<Long> free = new HashSet<>();
        Map<Integer, Long> inuse = new HashMap<>();
        Map<Integer, Long> empty = new HashMap<>();
        long frames = 0;
        BitSet touched = new BitSet(); // every node's zones, each up to its frontier
        for (Node node : pages.buddySystem().nodes()) {
            for (Zone zone : node.zones()) {
                touched.set(zone.startPfn(), zone.untouchedPfn());
            }
        }
        for (int pfn = touched.nextSetBit(0); pfn >= 0; pfn = touched.nextSetBit(pfn + 1)) {
            int info = descriptors.info(pfn);
            if (PageDescriptors.state(info) != ALLOCATED || !PageDescriptors.isSlab(info)) {
                continue;
            }
            int word = descriptors.slab(pfn);
            int sizeClass = (word & 0xFF) - 1;
            String slab = "slab " + pfn + " of class " + sizeClass;
            if (sizeClass < 0 || !classes.isSlab(sizeClass) || PageDescriptors.order(info) != classes.slabOrder(sizeClass)) {
                throw new AssertionError(slab + " has slab word 0x" + Integer.toHexString(word) + " and order " + PageDescriptors.order(info));
            }
            int order = classes.slabOrder(sizeClass);
            for (int i = 0; i < 1 << order; i++) {
                if (descriptors.slab(pfn + i) != (i << 8 | (sizeClass + 1))) {
                    throw new AssertionError(slab + ": frame " + i + " has slab word 0x" + Integer.toHexString(descriptors.slab(pfn + i)));
                }
            }
            int overlap = used.nextSetBit(pfn);
            if (overlap != -1 && overlap < pfn + (1 << order)) {
                throw new AssertionError(slab + " overlaps frame " + overlap + ", which is free or cached");
            }
            used.set(pfn, pfn + (1 << order));
            frames += 1L << order;
            int count = 0;
            long size = classes.size(sizeClass);
            for (int index = descriptors.freelist(pfn); index != -1; ) {
                long offset = ((long) pfn << shift) + index * size;
                if (++count > classes.objects(sizeClass) || !slabs.isMarkedFree(offset) || !free.add(offset)) {
                    throw new AssertionError(slab + ": free object " + index + " is unmarked, repeated, or the list has a cycle");
                }
                index = region.memory().get(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, offset + 8);
            }
            int objectsOut = descriptors.inuse(pfn);
            if (count + objectsOut != classes.objects(sizeClass)) {
                throw new AssertionError(slab + ": " + count + " free + " + objectsOut + " in use != " + classes.objects(sizeClass));
            }
            if ((count > 0) != partial.remove(pfn)) {
                throw new AssertionError(slab + " with " + count + " free objects is " + (count > 0 ? "not " : "") + "on the partial list");
            }
            inuse.merge(sizeClass, (long) objectsOut, Long::sum);
            if (objectsOut == 0) {
                empty.merge(sizeClass, 1L, Long::sum);
            }
        }
        if (!partial.isEmpty()) {
            throw new AssertionError("the partial lists hold blocks that are no slabs: " + partial);
        }
        long[] cachedObjects = new long[classes.count()];
        slabs.forEachCachedObject((offset, sizeClass) -> {
            int pfn = (int) (offset >>> shift);
            if ((descriptors.slab(pfn) & 0xFF) - 1 != sizeClass || !slabs.isMarkedFree(offset) || !free.add(offset)) {
                throw new AssertionError("object at offset " + offset + " of class " + sizeClass
                        + " in a magazine is in no slab of its class, unmarked, or held twice");
            }
            cachedObjects[sizeClass]++;
        });
        long held = 0;
        for (int c = 0; c < classes.count(); c++) {
            if (!classes.isSlab(c)) {
                continue;
            }
            long out = inuse.getOrDefault(c, 0L);
            if (out != slabs.objectsOut(c)) {
                throw new AssertionError("class " + c + " counts " + slabs.objectsOut(c) + " objects out, its slabs " + out);
            }
            if (empty.getOrDefault(c, 0L) != slabs.emptySlabs(c)) {
                throw new AssertionError("class " + c + " counts " + slabs.emptySlabs(c) + " empty slabs, there are " + empty.getOrDefault(c, 0L));
            }
            held += out - cachedObjects[c];
        }
        if (objects != null) {
            for (long address : objects) {
                long offset = address - region.base();
                if (descriptors.slab((int) (offset >>> shift)) == 0 || free.contains(offset) || slabs.isMarkedFree(offset)) {
                    throw new AssertionError("object at 0x" + Long.toHexString(address) + " is held but is not an allocated slab object");
                }
            }
            if (held != objects.size()) {
                throw new AssertionError("the slabs count " + held + " objects held by users, the holders " + objects.size());
            }
        }
        return frames;
    }

    private static long checkFreeLists(Zone zone, BitSet used) {
        PageDescriptors descriptors = zone.descriptors();
        int untouched = zone.untouchedPfn();
        require(untouched >= zone.startPfn() && untouched <= zone.endPfn(), zone, "frontier " + untouched + " outside the zone");
        used.set(untouched, zone.endPfn());
        long free = zone.endPfn() - untouched;
        long reserveFree = 0;
        for (int lifetime = 0; lifetime < Lifetimes.COUNT; lifetime++) {
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
                    checkGrouped(zone, pfn, order, lifetime);
                    checkMaximallyMerged(zone, pfn, order);
                    free += 1L << order;
                    reserveFree += lifetime == Lifetimes.RESERVE ? 1L << order : 0;
                    length++;
                    prev = pfn;
                }
                require(length == zone.freeListCount(order, lifetime), zone, "free list of order " + order + " holds "
                        + length + " blocks but counts " + zone.freeListCount(order, lifetime));
            }
        }
        require(zone.usableFreeFrames() == free - reserveFree, zone, "usable free frames counted " + zone.usableFreeFrames()
                + " but the lists outside the reserve and the untouched frames hold " + (free - reserveFree));
        return free;
    }

    /** A free block is on its pageblock's type's list, and a large one spans pageblocks of one type. */
    private static void checkGrouped(Zone zone, int pfn, int order, int lifetime) {
        int pageblock = 1 << zone.pageblockOrder();
        for (int frame = pfn; frame < pfn + (1 << order); frame += pageblock) {
            require(zone.pageblockType(frame) == lifetime, zone, "free block " + pfn + " of order " + order
                    + " is on the " + Lifetimes.name(lifetime) + " list, but its pageblock at " + (frame & -pageblock)
                    + " is " + Lifetimes.name(zone.pageblockType(frame)));
        }
    }

    /** Every cached block is a CACHED head of its order, overlapping nothing; returns the frames cached. */
    private static long checkCaches(PageAllocator pages, BitSet used) {
        PageDescriptors descriptors = pages.region().descriptors();
        long frames = 0;
        for (ThreadCaches caches : pages.threadCaches()) {
            frames += checkCachesOfNode(caches, descriptors, used);
        }
        return frames;
    }

    /** One node's caches; returns the frames they hold. */
    private static long checkCachesOfNode(ThreadCaches caches, PageDescriptors descriptors, BitSet used) {
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

    /**
     * An exact run held where the holder expected a block (of the order it computed, or read from
     * the head): it is made of allocated blocks with the run flag, one per set bit of the length,
     * largest first. Returns the length.
     */
    private static int checkRun(PageDescriptors descriptors, int head, int order) {
        int length = descriptors.runFrames(head);
        if (length <= 0) {
            throw new AssertionError("held block " + head + " (order " + order + ") is inside a run, not a run's head");
        }
        int lifetime = PageDescriptors.lifetime(descriptors.info(head));
        int at = head;
        for (int o = 31 - Integer.numberOfLeadingZeros(length); o >= 0; o--) {
            if ((length & (1 << o)) != 0) {
                int info = descriptors.info(at);
                if (info != (PageDescriptors.info(ALLOCATED, o, lifetime) | PageDescriptors.RUN_FLAG)
                        || (at != head && descriptors.runFrames(at) != 0)) {
                    throw new AssertionError("block " + at + " of the run at " + head + " has info 0x" + Integer.toHexString(info));
                }
                at += 1 << o;
            }
        }
        return length;
    }

    private static void checkAllocated(PageAllocator pages, Map<Long, Integer> allocated, BitSet used, long handedOut) {
        // handedOut: frames out of the zones and not in a cache, so held by users
        Region region = pages.region();
        long frames = 0;
        for (Map.Entry<Long, Integer> block : allocated.entrySet()) {
            int pfn = region.pfn(block.getKey());
            int order = block.getValue();
            int info = region.descriptors().info(pfn);
            boolean run = (info & PageDescriptors.RUN_FLAG) != 0;
            int length = run ? checkRun(region.descriptors(), pfn, order) : 1 << order;
            if (!run && info != PageDescriptors.info(ALLOCATED, order, PageDescriptors.lifetime(info))) {
                throw new AssertionError("block " + pfn + " of order " + order + " is held but its descriptor has state "
                        + PageDescriptors.state(info) + " order " + PageDescriptors.order(info));
            }
            int overlap = used.nextSetBit(pfn);
            if (overlap != -1 && overlap < pfn + length) {
                throw new AssertionError("held block " + pfn + " of " + length + " frames overlaps frame " + overlap
                        + ", which is free or held twice");
            }
            used.set(pfn, pfn + length);
            frames += length;
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
