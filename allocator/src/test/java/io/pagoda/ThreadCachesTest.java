package io.pagoda;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The per-thread page caches: fast path, batching, draining, dead and idle threads, virtual threads. */
class ThreadCachesTest {

    private static final int PAGE = 4096;
    private static final long FOUR_MIB = 4L << 20;

    private static PageAllocator.Builder small() {
        return PageAllocator.builder().capacity(FOUR_MIB).minFreeBytes(0).cacheIdleTimeout(Duration.ofMinutes(10));
    }

    @Test
    void shouldHandBackTheBlockJustFreedWithoutVisitingTheZone() {
        try (PageAllocator pages = small().cacheBatch(8).build()) {
            long first = pages.allocatePages(0);
            pages.freePages(first, 0);
            long second = pages.allocatePages(0);
            assertEquals(first, second, "the warmest block comes back first");
            CacheStatistics total = pages.cacheStatistics();
            assertEquals(1, total.hits());
            assertEquals(1, total.misses());
            assertEquals(1, total.refills(), "one refill served both allocations");
            InvariantChecker.check(pages, java.util.Map.of(second, 0));
        }
    }

    @Test
    void shouldRefillABatchInOneGoAndKeepTheRestCached() {
        try (PageAllocator pages = small().cacheBatch(8).build()) {
            pages.allocatePages(0);
            assertEquals(7L * PAGE, pages.cachedBytes(), "a batch of 8, one handed out");
            assertEquals(FOUR_MIB - 8L * PAGE, pages.freeBytes());
            pages.allocatePages(1); // order 1: batch of 8 >> 1 = 4 blocks
            assertEquals(7L * PAGE + 3L * 2 * PAGE, pages.cachedBytes());
        }
    }

    @Test
    void shouldGiveTheColdestBatchBackWhenAboveHigh() {
        try (PageAllocator pages = small().cacheBatch(4).cacheHigh(8).build()) {
            List<Long> blocks = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                blocks.add(pages.allocatePages(0));
            }
            blocks.forEach(block -> pages.freePages(block, 0));
            assertTrue(ownCache(pages).cachedBytes() <= 8L * PAGE, "never above high: " + ownCache(pages));
            assertTrue(pages.cacheStatistics().drains() >= 3, pages.cacheStatistics().toString());
            assertEquals(FOUR_MIB, pages.freeBytes() + pages.cachedBytes(), "given back to the depot or the zone");
            InvariantChecker.check(pages);
        }
    }

    @Test
    void shouldPassBatchesFromAThreadThatFreesToAThreadThatAllocatesThroughTheDepot() throws InterruptedException {
        try (PageAllocator pages = small().cacheBatch(4).cacheHigh(8).build()) {
            List<Long> blocks = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                blocks.add(pages.allocatePages(0)); // 4 refills from the zone
            }
            CountDownLatch freed = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Thread freer = Thread.ofPlatform().start(() -> {
                blocks.forEach(block -> pages.freePages(block, 0));
                freed.countDown();
                // Alive until the end: the reaper gives a dead thread's cache back to the zone at
                // any moment, which would change the zone's free bytes between the two readings.
                awaitQuietly(release);
            });
            try {
                freed.await(); // its cache kept high = 8 blocks and left a batch of 4 in the depot, and would have left more
                long zoneFree = pages.freeBytes();
                for (int i = 0; i < 4; i++) {
                    pages.allocatePages(0); // one refill: the depot's batch
                }
                assertEquals(zoneFree, pages.freeBytes(), "the refill came from the depot, not the zone");
                InvariantChecker.check(pages);
            } finally {
                release.countDown();
                freer.join();
            }
        }
    }

    private static CacheStatistics ownCache(PageAllocator pages) {
        return cacheNamed(pages, Thread.currentThread().getName());
    }

    private static CacheStatistics cacheNamed(PageAllocator pages, String name) {
        return pages.perCacheStatistics().stream().filter(cache -> cache.name().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void shouldPutAFreeFromAnotherThreadInTheFreeingThreadsCache() throws InterruptedException {
        try (PageAllocator pages = small().cacheBatch(1).build()) {
            long block = pages.allocatePages(0);
            CountDownLatch freed = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Thread freer = Thread.ofPlatform().name("freer").start(() -> {
                pages.freePages(block, 0);
                freed.countDown();
                // Alive until the end: the reaper would give a dead thread's cache back to the zone
                // at any moment, between the two readings of the sum below too.
                awaitQuietly(release);
            });
            try {
                freed.await();
                assertEquals(PAGE, cacheNamed(pages, "freer").cachedBytes(), "the block is in the freer's cache");
                InvariantChecker.check(pages);
                assertEquals(FOUR_MIB, pages.freeBytes() + pages.cachedBytes());
            } finally {
                release.countDown();
                freer.join();
            }
        }
    }

    @Test
    void shouldDrainTheCacheOfABlockedThreadSoThatAnotherCanAllocateEveryFrame() throws InterruptedException {
        try (PageAllocator pages = small().cacheBatch(16).cacheHigh(256).build()) {
            CountDownLatch filled = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Thread hoarder = Thread.ofPlatform().name("hoarder").start(() -> {
                List<Long> blocks = new ArrayList<>();
                for (int i = 0; i < 200; i++) {
                    blocks.add(pages.allocatePages(0));
                }
                blocks.forEach(block -> pages.freePages(block, 0)); // all into the hoarder's own cache
                filled.countDown();
                awaitQuietly(release); // blocked: it will never look at its cache again
            });
            filled.await();
            assertTrue(pages.cachedBytes() >= 150L * PAGE, "the hoarder's cache holds " + pages.cachedBytes());
            List<Long> everything = new ArrayList<>();
            for (int i = 0; i < FOUR_MIB / PAGE; i++) {
                everything.add(pages.allocatePages(0)); // must not fail: the hoarder's cache is drained
            }
            assertEquals(FOUR_MIB / PAGE, everything.stream().distinct().count());
            assertEquals(0, pages.freeBytes());
            release.countDown();
            hoarder.join();
        }
    }

    @Test
    void shouldReturnTheCacheOfADeadThreadWithoutBeingAsked() throws InterruptedException {
        try (PageAllocator pages = small().cacheBatch(16).cacheHigh(64).cacheIdleTimeout(Duration.ofMinutes(10)).build()) {
            Thread worker = Thread.ofPlatform().name("short-lived").start(() -> {
                long block = pages.allocatePages(0);
                pages.freePages(block, 0);
            });
            worker.join();
            // The reaper empties the cache (its count falls to zero), gives the blocks to the zone,
            // then retires the cache: wait for the last step, so that the first two are visible.
            awaitTrue(() -> pages.perCacheStatistics().stream().noneMatch(c -> c.name().equals("short-lived")),
                    "the dead thread's cache is retired");
            assertEquals(0, pages.cachedBytes(), "the dead thread's cache is returned");
            assertEquals(FOUR_MIB, pages.freeBytes());
            assertEquals(1, pages.cacheStatistics().hits() + pages.cacheStatistics().misses(),
                    "a dead thread's counters stay in the total");
            InvariantChecker.check(pages);
        }
    }

    @Test
    void shouldEmptyACacheLeftIdleForTheIdleTimeout() throws InterruptedException {
        try (PageAllocator pages = small().cacheBatch(16).cacheIdleTimeout(Duration.ofMillis(50)).build()) {
            CountDownLatch used = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Thread idler = Thread.ofPlatform().name("idler").start(() -> {
                pages.freePages(pages.allocatePages(0), 0);
                used.countDown();
                awaitQuietly(release); // alive, but idle
            });
            used.await();
            // The reaper takes the blocks off the cache (its count falls to zero) before it gives
            // them to the zone: wait until the zone has them.
            awaitTrue(() -> pages.freeBytes() == FOUR_MIB, "the idle cache is emptied into the zone");
            assertEquals(0, pages.cachedBytes());
            assertTrue(idler.isAlive());
            release.countDown();
            idler.join();
        }
    }

    @Test
    void shouldTrimEveryCacheIncludingThoseOfOtherThreads() throws InterruptedException {
        try (PageAllocator pages = small().cacheBatch(8).build()) {
            CountDownLatch filled = new CountDownLatch(3);
            CountDownLatch release = new CountDownLatch(1);
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 3; t++) {
                threads.add(Thread.ofPlatform().start(() -> {
                    for (int order = 0; order < 4; order++) {
                        pages.freePages(pages.allocatePages(order), order);
                    }
                    filled.countDown();
                    awaitQuietly(release);
                }));
            }
            filled.await();
            assertTrue(pages.cachedBytes() > 0);
            pages.trim();
            assertEquals(0, pages.cachedBytes());
            assertEquals("Node 0, zone   Normal      0      0      0      0      0      0      0      0      0      0      1 \n",
                    pages.buddyinfo(), "all free memory merged back");
            release.countDown();
            for (Thread thread : threads) {
                thread.join();
            }
            InvariantChecker.check(pages);
        }
    }

    @Test
    void shouldServeAThreadAgainFromItsCacheAfterItWasDrained() throws InterruptedException {
        try (PageAllocator pages = small().cacheBatch(8).build()) {
            pages.freePages(pages.allocatePages(0), 0);
            Thread drainer = Thread.ofPlatform().start(pages::trim);
            drainer.join();
            assertEquals(0, pages.cachedBytes());
            long refills = pages.cacheStatistics().refills();
            pages.freePages(pages.allocatePages(0), 0);
            assertEquals(refills + 1, pages.cacheStatistics().refills(), "the drained cache refills as usual");
            InvariantChecker.check(pages);
        }
    }

    @Test
    void shouldMakeAVirtualThreadsStripeOnlyAtItsFirstUse() throws InterruptedException {
        try (PageAllocator pages = PageAllocator.builder().capacity(64L << 20).build()) {
            assertEquals(0, stripes(pages), "no virtual thread has allocated yet");
            Thread.ofVirtual().start(() -> pages.freePages(pages.allocatePages(0), 0)).join();
            assertEquals(1, stripes(pages), "the one stripe that thread used");
            InvariantChecker.check(pages);
        }
    }

    private static long stripes(PageAllocator pages) {
        return pages.perCacheStatistics().stream().filter(cache -> cache.name().startsWith("shared-")).count();
    }

    @Test
    void shouldShareABoundedSetOfCachesAmongAMillionVirtualThreads() throws InterruptedException {
        try (PageAllocator pages = PageAllocator.builder().capacity(64L << 20).build()) {
            int cachesBefore = pages.perCacheStatistics().size();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            int million = 1_000_000;
            int wave = 20_000; // started and joined a wave at a time, so that they do not all live at once
            for (int started = 0; started < million; started += wave) {
                List<Thread> threads = new ArrayList<>(wave);
                for (int i = started; i < started + wave; i++) {
                    int order = i & 3;
                    threads.add(Thread.ofVirtual().start(() -> {
                        try {
                            long a = pages.allocatePages(order);
                            long b = pages.allocatePages(order);
                            assertNotEquals(a, b);
                            pages.freePages(a, order);
                            pages.freePages(b, order);
                        } catch (Throwable e) {
                            failure.compareAndSet(null, e);
                        }
                    }));
                }
                for (Thread thread : threads) {
                    thread.join();
                }
            }
            if (failure.get() != null) {
                throw new AssertionError(failure.get());
            }
            long stripes = stripes(pages);
            assertEquals(cachesBefore, pages.perCacheStatistics().size() - stripes, "virtual threads make no caches of their own");
            assertTrue(stripes > 0 && stripes <= 2 * Integer.highestOneBit(2 * Runtime.getRuntime().availableProcessors()),
                    "they share a bounded set of stripes: " + stripes);
            InvariantChecker.check(pages);
            CacheStatistics total = pages.cacheStatistics();
            assertTrue(total.hits() > million, "the shared caches served most allocations: " + total);
            pages.trim();
            assertEquals(pages.capacity(), pages.freeBytes());
        }
    }

    @Test
    void shouldKeepOneCacheForAPoolThreadWhoseThreadLocalsAreWiped() throws Exception {
        try (PageAllocator pages = small().cacheBatch(8).build()) {
            // A pool worker that does not preserve thread locals loses them whenever it goes idle.
            ForkJoinPool pool = new ForkJoinPool(1, p -> new ForkJoinWorkerThread(null, p, false) { }, null, false);
            CountDownLatch registered = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            try {
                Thread worker = pool.submit(Thread::currentThread).get();
                // Another live thread holds the worker's slot of the thread-id table (at any size up
                // to 1024), so the worker always looks itself up through its thread locals.
                Thread holder;
                do {
                    holder = Thread.ofPlatform().daemon().unstarted(() -> {
                        pages.freePages(pages.allocatePages(0), 0);
                        registered.countDown();
                        awaitQuietly(release);
                    });
                } while (((holder.threadId() ^ worker.threadId()) & 1023) != 0);
                holder.start();
                registered.await();
                int before = pages.perCacheStatistics().size();
                ThreadLocal<Boolean> marker = new ThreadLocal<>();
                int wipes = 0;
                for (int round = 0; round < 200 && wipes < 10; round++) {
                    boolean wiped = pool.submit(() -> {
                        boolean lost = marker.get() == null;
                        marker.set(Boolean.TRUE);
                        pages.freePages(pages.allocatePages(0), 0);
                        return lost;
                    }).get();
                    wipes += wiped ? 1 : 0;
                    Thread.sleep(5); // idle: the pool wipes the worker's thread locals
                }
                assertTrue(wipes >= 2, "the pool wiped the thread locals " + wipes + " times");
                assertEquals(before + 1, pages.perCacheStatistics().size(), "one cache for the worker, however often");
            } finally {
                release.countDown();
                pool.shutdownNow();
            }
        }
    }

    @Test
    void shouldCountHitsMissesAndCachedBytesExactly() {
        try (PageAllocator pages = small().cacheBatch(4).cacheHigh(16).build()) {
            long[] blocks = new long[10];
            for (int i = 0; i < blocks.length; i++) {
                blocks[i] = pages.allocatePages(0); // refills at 0, 4, 8: 3 misses, 7 hits
            }
            CacheStatistics afterAllocating = pages.cacheStatistics();
            assertEquals(7, afterAllocating.hits());
            assertEquals(3, afterAllocating.misses());
            assertEquals(3, afterAllocating.refills());
            assertEquals(2L * PAGE, afterAllocating.cachedBytes(), "12 taken, 10 handed out");
            for (long block : blocks) {
                pages.freePages(block, 0);
            }
            assertEquals(12L * PAGE, pages.cachedBytes());
            assertEquals(10L * PAGE - 10L * PAGE, pages.allocatedBytes());
            assertEquals(FOUR_MIB, pages.freeBytes() + pages.cachedBytes() + pages.allocatedBytes());
        }
    }

    @Test
    void shouldCountHitsExactlyAcrossRefillsAndDrainsThoughTheFastPathCountsOnlyFrees() {
        try (PageAllocator pages = small().cacheBatch(4).cacheHigh(8).build()) {
            long[] blocks = new long[20];
            for (int i = 0; i < blocks.length; i++) {
                blocks[i] = pages.allocatePages(0); // refills at 0, 4, 8, 12, 16: 5 misses, 15 hits
            }
            for (long block : blocks) {
                pages.freePages(block, 0); // above 8 held, 4 go back: at the 9th, 13th and 17th free
            }
            for (int i = 0; i < 6; i++) {
                blocks[i] = pages.allocatePages(0); // 8 held: 6 more hits
            }
            CacheStatistics statistics = pages.cacheStatistics();
            assertEquals(21, statistics.hits(), statistics::toString);
            assertEquals(5, statistics.misses(), statistics::toString);
            assertEquals(20, statistics.frees(), statistics::toString);
            assertEquals(3, statistics.drains(), statistics::toString);
            assertEquals((2 + 3 * 4) * PAGE, statistics.cachedBytes(), "2 held, 3 batches in the depot: " + statistics);
            pages.trim();
            assertEquals(21, pages.cacheStatistics().hits(), "a drain of the held blocks is no hit");
        }
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void awaitTrue(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within 10 s: " + what);
            }
            Thread.sleep(5);
        }
    }
}
