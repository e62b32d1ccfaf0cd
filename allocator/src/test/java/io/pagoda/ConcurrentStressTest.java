package io.pagoda;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Many threads, platform and virtual, allocate memory of random sizes (16 B to the largest block:
 * slab objects through the magazines, blocks through the page caches and the zone), stamp it, and hand a share of them to the next thread to free, so that frees race
 * with allocations, refills with drains, and splits with merges in the same zone. Threads die
 * mid-run (with full caches, and with blocks still to be freed by others) and are replaced; a
 * drainer trims every cache now and then; the reaper empties idle and dead threads' caches.
 * With two nodes, each thread takes a node and a memory policy at random, so that blocks and
 * objects are freed across nodes too, and a thread bound to its node checks it gets no other.
 *
 * <p>Every block carries its own stamp from allocation to free; a block handed out twice, or two
 * overlapping blocks, break a stamp or the live set. At the end every block is freed, and the
 * invariants of DESIGN.md must hold, with every frame free again after a trim.
 *
 * <p>Runs for {@code pagoda.stress.seconds} (default 3, the CI version); run the long version with
 * {@code mvn -B verify -pl allocator -Dtest=ConcurrentStressTest -Dpagoda.stress.seconds=600}.
 */
class ConcurrentStressTest {

    private static final double SECONDS = Double.parseDouble(System.getProperty("pagoda.stress.seconds", "3"));
    private static final int SLOTS = Math.max(6, 3 * Runtime.getRuntime().availableProcessors());
    private static final int LIVE_PER_THREAD = 64;
    private static final MemoryPolicy[] POLICIES = MemoryPolicy.values();

    @ParameterizedTest(name = "{0} node(s)")
    @ValueSource(ints = {1, 2})
    void shouldNeverHandOutAFrameTwiceWhileThreadsComeGoAndFreeEachOthersBlocks(int nodes) throws InterruptedException {
        // Small enough that threads run it dry, so the drain-and-retry path races too.
        try (PageAllocator pages = PageAllocator.builder().capacity(32L << 20).maxOrder(8).nodes(nodes)
                .cacheBatch(8).cacheHigh(32).cacheIdleTimeout(Duration.ofMillis(20)).build()) {
            Set<Long> live = ConcurrentHashMap.newKeySet();
            List<ConcurrentLinkedQueue<MemorySegment>> inboxes = new ArrayList<>();
            for (int i = 0; i < SLOTS; i++) {
                inboxes.add(new ConcurrentLinkedQueue<>());
            }
            AtomicReference<Throwable> failure = new AtomicReference<>();
            AtomicLong pairs = new AtomicLong();
            AtomicLong generations = new AtomicLong();
            long seed = System.nanoTime();
            long deadline = System.nanoTime() + (long) (SECONDS * 1e9);

            List<Thread> slots = new ArrayList<>();
            for (int s = 0; s < SLOTS; s++) {
                int slot = s;
                boolean virtual = slot % 2 == 1;
                slots.add(Thread.ofPlatform().name("slot-" + slot).start(() -> {
                    SplittableRandom random = new SplittableRandom(seed + slot);
                    // Each generation lives a random while, then dies; the next takes over its inbox.
                    while (System.nanoTime() < deadline && failure.get() == null) {
                        long end = Math.min(deadline, System.nanoTime() + 1_000_000L * (20 + random.nextInt(200)));
                        Worker worker = new Worker(pages, live, inboxes.get(slot), inboxes.get((slot + 1) % SLOTS),
                                random.split(), pairs, random.nextInt(nodes), POLICIES[random.nextInt(POLICIES.length)]);
                        Runnable body = () -> {
                            try {
                                worker.run(end);
                            } catch (Throwable e) {
                                failure.compareAndSet(null, e);
                            }
                        };
                        Thread generation = virtual ? Thread.ofVirtual().start(body) : Thread.ofPlatform().start(body);
                        generations.incrementAndGet();
                        try {
                            generation.join();
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                }));
            }
            Thread drainer = Thread.ofPlatform().name("drainer").start(() -> {
                while (System.nanoTime() < deadline && failure.get() == null) {
                    pages.trim();
                    try {
                        Thread.sleep(3);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
            for (Thread slot : slots) {
                slot.join();
            }
            drainer.join();
            if (failure.get() != null) {
                throw new AssertionError("seed " + seed + ": " + failure.get(), failure.get());
            }
            // Blocks still in an inbox were handed over by a thread that died before its neighbour freed them.
            for (ConcurrentLinkedQueue<MemorySegment> inbox : inboxes) {
                for (MemorySegment segment; (segment = inbox.poll()) != null; ) {
                    Worker.checkStamp(segment);
                    assertTrue(live.remove(segment.address()));
                    pages.free(segment);
                }
            }
            assertTrue(live.isEmpty(), live.size() + " blocks never freed");
            assertTrue(pairs.get() > 0 && generations.get() > SLOTS, "work done: " + pairs + " pairs, " + generations + " threads");
            InvariantChecker.check(pages);
            pages.trim();
            InvariantChecker.check(pages);
            assertEquals(pages.capacity(), pages.freeBytes(), "every frame is free again\n" + pages.buddyinfo());
            assertTrue(pages.perCacheStatistics().size() <= 2 * SLOTS + 64,
                    "dead threads' caches are retired: " + pages.perCacheStatistics().size());
        }
    }

    private static final class Worker {
        private final PageAllocator pages;
        private final Set<Long> live;
        private final ConcurrentLinkedQueue<MemorySegment> inbox;
        private final ConcurrentLinkedQueue<MemorySegment> neighbour;
        private final SplittableRandom random;
        private final AtomicLong pairs;
        private final List<MemorySegment> held = new ArrayList<>();
        private final int node;
        private final MemoryPolicy policy;

        Worker(PageAllocator pages, Set<Long> live, ConcurrentLinkedQueue<MemorySegment> inbox,
               ConcurrentLinkedQueue<MemorySegment> neighbour, SplittableRandom random, AtomicLong pairs,
               int node, MemoryPolicy policy) {
            this.node = node;
            this.policy = policy;
            this.pages = pages;
            this.live = live;
            this.inbox = inbox;
            this.neighbour = neighbour;
            this.random = random;
            this.pairs = pairs;
        }

        void run(long end) {
            pages.bindCurrentThread(node, policy);
            while (System.nanoTime() < end) {
                for (MemorySegment segment; (segment = inbox.poll()) != null; ) {
                    free(segment);
                }
                if (held.size() < LIVE_PER_THREAD && random.nextInt(3) != 0) {
                    allocate();
                } else if (!held.isEmpty()) {
                    MemorySegment segment = held.remove(random.nextInt(held.size()));
                    if (random.nextBoolean()) {
                        neighbour.add(segment); // freed by another thread
                    } else {
                        free(segment);
                    }
                }
            }
            // Die: leave some blocks for the neighbour to free, free the rest; the cache stays full.
            for (MemorySegment segment : held) {
                if (random.nextBoolean()) {
                    neighbour.add(segment);
                } else {
                    free(segment);
                }
            }
            held.clear();
        }

        private void allocate() {
            // Mostly cached orders (0..3), sometimes large ones, as a server's buffer sizes are.
            int order = random.nextInt(4) == 0 ? random.nextInt(pages.maxOrder() + 1) : random.nextInt(4);
            MemorySegment segment;
            try {
                // Within the order's range: slab objects from 16 bytes (room for two stamps), blocks above four pages.
                long smallest = order == 0 ? 16 : pages.blockSize(order - 1) + 1;
                segment = pages.allocate(smallest + random.nextLong(pages.blockSize(order) - smallest + 1));
            } catch (OutOfPagesException e) {
                return;
            }
            if (!live.add(segment.address())) {
                throw new AssertionError("block at 0x" + Long.toHexString(segment.address()) + " handed out twice");
            }
            int from = pages.buddySystem().nodeOf(pages.region().pfn(segment.address()));
            if (policy == MemoryPolicy.BIND && from != node) {
                throw new AssertionError(segment.byteSize() + " bytes at 0x" + Long.toHexString(segment.address())
                        + " from node " + from + " for a thread bound to node " + node);
            }
            stamp(segment);
            held.add(segment);
        }

        private void free(MemorySegment segment) {
            checkStamp(segment);
            if (!live.remove(segment.address())) {
                throw new AssertionError("block at 0x" + Long.toHexString(segment.address()) + " freed but not live");
            }
            pages.free(segment);
            pairs.incrementAndGet();
        }

        /** Writes the block's own address at every 4 KiB and its complement in the last word. */
        private static void stamp(MemorySegment segment) {
            for (long offset = 0; offset + 8 <= segment.byteSize() - 8; offset += 4096) {
                segment.set(ValueLayout.JAVA_LONG_UNALIGNED, offset, segment.address() + offset);
            }
            segment.set(ValueLayout.JAVA_LONG_UNALIGNED, segment.byteSize() - 8, ~segment.address());
        }

        static void checkStamp(MemorySegment segment) {
            for (long offset = 0; offset + 8 <= segment.byteSize() - 8; offset += 4096) {
                if (segment.get(ValueLayout.JAVA_LONG_UNALIGNED, offset) != segment.address() + offset) {
                    throw new AssertionError("block at 0x" + Long.toHexString(segment.address())
                            + " was overwritten at offset " + offset + ": it overlaps another live block");
                }
            }
            if (segment.get(ValueLayout.JAVA_LONG_UNALIGNED, segment.byteSize() - 8) != ~segment.address()) {
                throw new AssertionError("block at 0x" + Long.toHexString(segment.address()) + " lost its end stamp");
            }
        }
    }
}
