package io.pagoda;

import io.pagoda.buddy.BuddySystem;
import io.pagoda.buddy.Lifetimes;
import io.pagoda.buddy.Zone;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Review of the code of the lifetimes, reserve, watermarks, purge and nodes: adversarial
 * scenarios, each followed by the invariant check.
 */
class ReviewMemoryPressureTest {

    private static final int PAGE = 4096;

    private PageAllocator pages;

    @AfterEach
    void close() {
        if (pages != null) {
            pages.close();
        }
    }

    private Zone zone(int node) {
        return pages.buddySystem().zone(node);
    }

    private int pfn(long address) {
        return pages.region().pfn(address);
    }

    /**
     * A zone whose size is not a multiple of the pageblock: carving its tail puts two blocks, carved
     * at different times for different lifetimes, in one pageblock. The second carve re-types the
     * pageblock though the first block's free half still sits on the first type's list.
     *
     * <p>1408 frames = 1024 + 256 + 128; pageblocks of 512 frames: the pageblock [1024, 1536) holds
     * the carved blocks [1024, 1280) (order 8) and [1280, 1408) (order 7).
     */
    @Test
    void carvingTheZoneTailMustNotRetypeAPageblockInUse() {
        pages = PageAllocator.builder().capacity(1408L * PAGE).cachedOrders(0).minFreeBytes(0).build();
        assertEquals(9, pages.pageblockOrder());
        long whole = pages.allocatePages(10, Lifetime.SHORT_LIVED);           // carves [0, 1024)
        long longLived = pages.allocatePages(7, Lifetime.LONG_LIVED);         // carves [1024, 1280): LONG, half 1152 on LONG's list
        assertEquals(1024, pfn(longLived));
        assertEquals(Lifetimes.LONG_LIVED, zone(0).pageblockType(1152));
        long shortLived = pages.allocatePages(7, Lifetime.SHORT_LIVED);       // carves [1280, 1408): the pageblock became SHORT
        assertTrue(pfn(shortLived) >= 1152);
        // The free block at 1152 is still on the long-lived list: its pageblock must still say so.
        InvariantChecker.check(pages);
        pages.freePages(shortLived, 7);
        pages.freePages(longLived, 7);
        pages.freePages(whole, 10);
        InvariantChecker.check(pages);
    }

    /**
     * A critical allocation of order above 0 taken outside the reserve moves its pageblock into
     * the reserve before the caller marks the block allocated: the pageblock walk finds the block
     * just taken still reading FREE, unlinks it a second time from the short-lived list and puts
     * it on the reserve's list, so the next critical allocation gets the same block.
     *
     * <p>allocatePages(0) carves [0, 1024) and leaves a free order-3 block at 8; allocateCritical(3)
     * takes 8 and reserves pageblock 0, putting 8 on the reserve's order-3 list; the second
     * allocateCritical(3) takes 8 from there.
     */
    @Test
    void criticalAllocationThatReservesItsPageblockIsNotHandedOutTwice() {
        pages = PageAllocator.builder().capacity(4L << 20).cachedOrders(0).minFreeBytes(0).build();
        long first = pages.allocatePages(0, Lifetime.SHORT_LIVED);
        long critical = pages.allocateCritical(3);
        long again = pages.allocateCritical(3);
        assertNotEquals(critical, again, "pfn " + pfn(critical) + " handed out twice");
        InvariantChecker.check(pages, Map.of(first, 0, critical, 3, again, 3));
        pages.freePages(again, 3);
        pages.freePages(critical, 3);
        pages.freePages(first, 0);
        InvariantChecker.check(pages, Map.of());
    }

    /** The same with the reserve: a critical allocation makes the tail pageblock reserved, then a carve takes it back. */
    @Test
    void carvingTheZoneTailMustNotTakeAPageblockOutOfTheReserve() {
        pages = PageAllocator.builder().capacity(1408L * PAGE).cachedOrders(0).minFreeBytes(0).build();
        long whole = pages.allocatePages(10, Lifetime.SHORT_LIVED);
        long critical = pages.allocateCritical(7);                            // [1024, 1280) carved, then reserved
        assertEquals(1024, pfn(critical));
        assertEquals(1, zone(0).counters().reservedPageblocks());
        long longLived = pages.allocatePages(7, Lifetime.LONG_LIVED);         // carves [1280, 1408): the pageblock left the reserve
        assertTrue(pfn(longLived) >= 1152);
        InvariantChecker.check(pages);
        pages.freePages(longLived, 7);
        pages.freePages(critical, 7);
        pages.freePages(whole, 10);
        InvariantChecker.check(pages);
    }

    /** The reserve's count always agrees with the pageblocks typed RESERVE, through random critical and ordinary traffic. */
    @Test
    void reserveCountMatchesReservedPageblocksUnderRandomTraffic() {
        for (long seed = 1; seed <= 6; seed++) {
            Random random = new Random(seed);
            // Not a multiple of the pageblock in half the runs: the tail is where pageblocks are shared.
            long frames = 4096 + (seed % 2 == 0 ? 0 : 1024 + 256 + 64 + 3);
            pages = PageAllocator.builder().capacity(frames * PAGE).cachedOrders(0).minFreeBytes(0).build();
            Lifetime[] lifetimes = Lifetime.values();
            Map<Long, Integer> held = new HashMap<>();
            List<Long> order = new ArrayList<>();
            for (int step = 0; step < 3000; step++) {
                if (!order.isEmpty() && random.nextInt(100) < 45) {
                    long address = order.remove(random.nextInt(order.size()));
                    pages.freePages(address, held.remove(address));
                    continue;
                }
                int o = random.nextInt(100) < 80 ? random.nextInt(4) : random.nextInt(11);
                long address;
                if (random.nextInt(10) == 0) {
                    try {
                        address = pages.allocateCritical(o);
                    } catch (OutOfPagesException full) {
                        continue;
                    }
                } else {
                    address = pages.tryAllocatePages(o, lifetimes[random.nextInt(lifetimes.length)]);
                    if (address == 0) {
                        continue;
                    }
                }
                Integer before = held.put(address, o);
                if (before != null) {
                    throw new AssertionError("seed " + seed + " step " + step + ": pfn " + pfn(address) + " of order " + o
                            + " handed out while held as order " + before);
                }
                order.add(address);
                if (step % 500 == 0) {
                    assertReserveCounted(seed, step);
                    InvariantChecker.check(pages, held);
                }
            }
            assertReserveCounted(seed, -1);
            InvariantChecker.check(pages, held);
            for (long address : order) {
                pages.freePages(address, held.get(address));
            }
            assertReserveCounted(seed, -2);
            InvariantChecker.check(pages, Map.of());
            pages.close();
            pages = null;
        }
    }

    private void assertReserveCounted(long seed, int step) {
        Zone zone = zone(0);
        zone.lock().lock();
        try {
            long typed = zone.pageblocksPerType()[Lifetimes.RESERVE];
            assertEquals(typed, zone.counters().reservedPageblocks(), "seed " + seed + " step " + step
                    + ": the reserve counts " + zone.counters().reservedPageblocks() + " pageblocks, " + typed + " are typed RESERVE");
        } finally {
            zone.lock().unlock();
        }
    }

    /**
     * A purge hands back memory only of blocks free at the time: threads write a pattern into
     * large blocks they hold while passes with the shortest decay run back to back; a block
     * purged while held would read back zeros.
     */
    @Test
    void purgeNeverDiscardsMemoryThatIsHandedOut() throws Exception {
        // Not in the debug mode, which never purges: handed-back memory reads zero, not its poison.
        pages = PageAllocator.builder().capacity(64L << 20).cachedOrders(0).minFreeBytes(0).debug(false).build();
        org.junit.jupiter.api.Assumptions.assumeTrue(pages.region().isMapped(), "purge needs a mapped region");
        BuddySystem buddy = pages.buddySystem();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 2; t++) {
            int seed = t;
            threads.add(Thread.ofPlatform().start(() -> {
                Random random = new Random(seed);
                try {
                    while (!stop.get()) {
                        int o = 8 + random.nextInt(3); // around the pageblock order: split and merged across it
                        long address = pages.tryAllocatePages(o, Lifetime.SHORT_LIVED);
                        if (address == 0) {
                            continue;
                        }
                        long bytes = (long) PAGE << o;
                        MemorySegment block = MemorySegment.ofAddress(address).reinterpret(bytes);
                        long tag = random.nextLong() | 1;
                        for (long off = 0; off < bytes; off += PAGE) {
                            block.set(ValueLayout.JAVA_LONG, off, tag ^ off);
                        }
                        Thread.onSpinWait();
                        for (long off = 0; off < bytes; off += PAGE) {
                            long read = block.get(ValueLayout.JAVA_LONG, off);
                            if (read != (tag ^ off)) {
                                throw new AssertionError("block at pfn " + pfn(address) + " order " + o
                                        + " lost its contents at offset " + off + ": read " + read);
                            }
                        }
                        pages.freePages(address, o);
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            }));
        }
        Thread purger = Thread.ofPlatform().start(() -> {
            try {
                while (!stop.get()) {
                    buddy.purge(1, 64, pages.region());
                }
            } catch (Throwable e) {
                failure.compareAndSet(null, e);
            }
        });
        Thread.sleep(1500);
        stop.set(true);
        for (Thread thread : threads) {
            thread.join();
        }
        purger.join();
        assertNull(failure.get(), () -> String.valueOf(failure.get()));
        InvariantChecker.check(pages, Map.of());
    }

    /**
     * Nodes: capacity not a multiple of nodes x max-order block, so the last node is bigger. Every
     * frame must belong to the node whose zone spans it, and random traffic from threads on
     * every node and policy must keep the invariants.
     */
    @Test
    void nodesWithABiggerLastSliceStayConsistentUnderConcurrentTraffic() throws Exception {
        long frames = 3 * 1024 + 777;
        pages = PageAllocator.builder().capacity(frames * PAGE).nodes(3).minFreeBytes(0).build();
        BuddySystem buddy = pages.buddySystem();
        for (int node = 0; node < 3; node++) {
            Zone zone = buddy.zone(node);
            assertEquals(node, buddy.nodeOf(zone.startPfn()));
            assertEquals(node, buddy.nodeOf(zone.endPfn() - 1));
        }
        assertEquals(frames, buddy.zone(2).endPfn());
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>();
        MemoryPolicy[] policies = MemoryPolicy.values();
        Map<Long, Integer>[] held = new Map[4];
        for (int t = 0; t < 4; t++) {
            int id = t;
            held[t] = new HashMap<>();
            threads.add(Thread.ofPlatform().start(() -> {
                Random random = new Random(id);
                List<Long> mine = new ArrayList<>();
                try {
                    pages.bindCurrentThread(id % 3, policies[id % policies.length]);
                    for (int step = 0; step < 20_000; step++) {
                        if (!mine.isEmpty() && random.nextInt(100) < 50) {
                            long address = mine.remove(random.nextInt(mine.size()));
                            pages.freePages(address, held[id].remove(address));
                        } else {
                            int o = random.nextInt(100) < 90 ? random.nextInt(4) : random.nextInt(11);
                            Lifetime lifetime = Lifetime.values()[random.nextInt(Lifetime.values().length)];
                            long address = random.nextInt(20) == 0 ? tryCritical(o) : pages.tryAllocatePages(o, lifetime);
                            if (address != 0) {
                                if (held[id].put(address, o) != null) {
                                    throw new AssertionError("pfn " + pfn(address) + " handed out twice to thread " + id);
                                }
                                mine.add(address);
                            }
                        }
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            }));
        }
        for (Thread thread : threads) {
            thread.join();
        }
        assertNull(failure.get(), () -> String.valueOf(failure.get()));
        Map<Long, Integer> all = new HashMap<>();
        for (Map<Long, Integer> map : held) {
            all.putAll(map);
        }
        InvariantChecker.check(pages, all);
        for (Map.Entry<Long, Integer> entry : all.entrySet()) {
            pages.freePages(entry.getKey(), entry.getValue());
        }
        pages.trim();
        InvariantChecker.check(pages, Map.of());
        assertEquals(frames, buddy.freeFrames());
    }

    private long tryCritical(int order) {
        try {
            return pages.allocateCritical(order);
        } catch (OutOfPagesException full) {
            return 0;
        }
    }

    /**
     * INTERLEAVE counts its allocations in an int: past 2^31 allocations the start node goes
     * negative and the allocation throws ArrayIndexOutOfBoundsException. (The counter is set
     * near its end rather than counted there.)
     */
    @Test
    void interleaveKeepsWorkingAfterTwoBillionAllocations() throws Exception {
        pages = PageAllocator.builder().capacity(8L << 20).nodes(2).minFreeBytes(0).build();
        pages.bindCurrentThread(1, MemoryPolicy.INTERLEAVE);
        java.lang.reflect.Field framesField = PageAllocator.class.getDeclaredField("frames");
        framesField.setAccessible(true);
        NodeMap.Binding binding = ((NodeFrames) framesField.get(pages)).nodeMap().current();
        java.lang.reflect.Field interleaved = NodeMap.Binding.class.getDeclaredField("interleaved");
        interleaved.setAccessible(true);
        interleaved.setInt(binding, Integer.MAX_VALUE - 1);
        List<Long> held = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            held.add(pages.allocatePages(4, Lifetime.SHORT_LIVED)); // above the cached orders: straight to the zonelist
        }
        for (long address : held) {
            pages.freePages(address, 4);
        }
        InvariantChecker.check(pages, Map.of());
    }

    /**
     * A configuration the buddy system refuses (too many nodes for the capacity, a bad distance
     * table) must not leave the region's reservation mapped: the builder throws, and nothing
     * should stay behind.
     */
    @Test
    void refusedNodeConfigurationReleasesTheRegion() throws Exception {
        long capacity = 32L << 30;
        long before = virtualMemoryKiB();
        org.junit.jupiter.api.Assumptions.assumeTrue(before > 0, "needs /proc/self/status");
        // 32 GiB is 8,388,608 frames: 9,000,000 nodes cannot each have a max-order block.
        assertThrows(IllegalArgumentException.class,
                () -> PageAllocator.builder().capacity(capacity).nodes(9_000_000).build());
        assertThrows(IllegalArgumentException.class,
                () -> PageAllocator.builder().capacity(capacity).nodes(2).nodeDistances(new int[][]{{10, 5}, {20, 10}}).build());
        long grown = virtualMemoryKiB() - before;
        assertTrue(grown < (capacity >> 10) / 2, "the refused builds left " + (grown >> 20) + " GiB of address space mapped");
    }

    private static long virtualMemoryKiB() throws java.io.IOException {
        Path status = Path.of("/proc/self/status");
        if (!Files.isReadable(status)) {
            return -1;
        }
        for (String line : Files.readAllLines(status)) {
            if (line.startsWith("VmSize:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }
}
