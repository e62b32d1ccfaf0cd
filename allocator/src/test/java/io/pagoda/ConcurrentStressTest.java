package io.pagoda;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Many threads allocate blocks of random orders, stamp them, and hand a share of them to the next
 * thread to free, so that frees race with allocations and splits with merges in the same zone.
 * Every block carries its owner's stamp from allocation to free; a block handed out twice, or two
 * overlapping blocks, break a stamp or the live set. At the end every block is freed and the
 * invariants of DESIGN.md must hold with every frame free again.
 *
 * <p>Runs for {@code pagoda.stress.seconds} (default 2, the CI version); run the long version with
 * {@code mvn test -Dtest=ConcurrentStressTest -Dpagoda.stress.seconds=600}.
 */
class ConcurrentStressTest {

    private static final double SECONDS = Double.parseDouble(System.getProperty("pagoda.stress.seconds", "2"));
    private static final int THREADS = Math.max(4, 2 * Runtime.getRuntime().availableProcessors());
    private static final int LIVE_PER_THREAD = 64;

    @Test
    void shouldNeverHandOutAFrameTwiceWhileThreadsFreeEachOthersBlocks() throws InterruptedException {
        // Small enough that threads run it dry and hit the failure path too.
        try (PageAllocator pages = PageAllocator.builder().capacity(32L << 20).maxOrder(8).build()) {
            Set<Long> live = ConcurrentHashMap.newKeySet();
            List<ConcurrentLinkedQueue<MemorySegment>> inboxes = new ArrayList<>();
            for (int i = 0; i < THREADS; i++) {
                inboxes.add(new ConcurrentLinkedQueue<>());
            }
            AtomicReference<Throwable> failure = new AtomicReference<>();
            AtomicLong pairs = new AtomicLong();
            AtomicLong exhausted = new AtomicLong();
            long seed = System.nanoTime();
            long deadline = System.nanoTime() + (long) (SECONDS * 1e9);
            CountDownLatch start = new CountDownLatch(1);
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int self = t;
                threads.add(Thread.ofPlatform().name("stress-" + t).start(() -> {
                    try {
                        start.await();
                        new Worker(pages, live, inboxes.get(self), inboxes.get((self + 1) % THREADS),
                                new SplittableRandom(seed + self), pairs, exhausted).run(deadline);
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                }));
            }
            start.countDown();
            for (Thread thread : threads) {
                thread.join();
            }
            // Blocks still in an inbox belong to a thread that stopped first.
            for (ConcurrentLinkedQueue<MemorySegment> inbox : inboxes) {
                for (MemorySegment segment; (segment = inbox.poll()) != null; ) {
                    Worker.checkStamp(segment);
                    assertTrue(live.remove(segment.address()));
                    pages.free(segment);
                }
            }
            if (failure.get() != null) {
                throw new AssertionError("seed " + seed + ": " + failure.get(), failure.get());
            }
            assertTrue(live.isEmpty(), live.size() + " blocks never freed");
            InvariantChecker.check(pages);
            pages.trim();
            InvariantChecker.check(pages);
            assertEquals(pages.capacity(), pages.freeBytes(), "every frame is free again\n" + pages.buddyinfo());
            assertTrue(pairs.get() > 0, "no work was done");
        }
    }

    private static final class Worker {
        private final PageAllocator pages;
        private final Set<Long> live;
        private final ConcurrentLinkedQueue<MemorySegment> inbox;
        private final ConcurrentLinkedQueue<MemorySegment> neighbour;
        private final SplittableRandom random;
        private final AtomicLong pairs;
        private final AtomicLong exhausted;
        private final List<MemorySegment> held = new ArrayList<>();

        Worker(PageAllocator pages, Set<Long> live, ConcurrentLinkedQueue<MemorySegment> inbox,
               ConcurrentLinkedQueue<MemorySegment> neighbour, SplittableRandom random, AtomicLong pairs,
               AtomicLong exhausted) {
            this.pages = pages;
            this.live = live;
            this.inbox = inbox;
            this.neighbour = neighbour;
            this.random = random;
            this.pairs = pairs;
            this.exhausted = exhausted;
        }

        void run(long deadline) {
            while (System.nanoTime() < deadline) {
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
            held.forEach(this::free);
            held.clear();
        }

        private void allocate() {
            // Mostly small orders, sometimes large ones, as a server's buffer sizes are.
            int order = random.nextInt(4) == 0 ? random.nextInt(pages.maxOrder() + 1) : random.nextInt(3);
            MemorySegment segment;
            try {
                segment = pages.allocate(pages.blockSize(order) - random.nextInt(4096 - 16));
            } catch (OutOfPagesException e) {
                exhausted.incrementAndGet();
                return;
            }
            if (!live.add(segment.address())) {
                throw new AssertionError("block at 0x" + Long.toHexString(segment.address()) + " handed out twice");
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

        /** Writes the block's own address at its first and last word, and every 4 KiB in between. */
        private static void stamp(MemorySegment segment) {
            for (long offset = 0; offset + 8 <= segment.byteSize(); offset += 4096) {
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
