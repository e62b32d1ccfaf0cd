package io.pagoda;

import io.pagoda.buddy.Lifetimes;
import io.pagoda.buddy.Watermarks;
import io.pagoda.buddy.Zone;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Watermarks and reclaim: the background reclaimer woken below low, shrinkers asked for memory,
 * direct reclaim below min, critical allocations below min, failure and recovery.
 */
class WatermarkReclaimTest {

    private static final int PAGE = 4096;
    private static final int FRAMES = 1024;
    /** With 64 frames of min in 1024: low = 64 + 64/4 = 80, high = 96. */
    private static final int MIN = 64;
    private static final int LOW = 80;
    private static final int HIGH = 96;

    private PageAllocator pages;

    private PageAllocator allocator() {
        pages = PageAllocator.builder().capacity((long) FRAMES * PAGE).cachedOrders(0).minFreeBytes((long) MIN * PAGE).build();
        return pages;
    }

    @AfterEach
    void close() {
        if (pages != null) {
            pages.close();
        }
    }

    /** A cache of single frames that gives them back when asked, and remembers who asked. */
    private final class FrameCache implements Shrinker {
        final Deque<Long> frames = new ConcurrentLinkedDeque<>();
        /** The frames held, counted: a concurrent deque's size() walks it all. */
        final java.util.concurrent.atomic.AtomicInteger count = new java.util.concurrent.atomic.AtomicInteger();
        final Set<String> askedBy = ConcurrentHashMap.newKeySet();
        final AtomicLong freed = new AtomicLong();
        /** Gives nothing to the background reclaimer, so that only direct reclaim gets frames back. */
        volatile boolean refuseReclaimer;
        /** Gives only to the background reclaimer. */
        volatile boolean onlyReclaimer;

        void add(long frame) {
            frames.add(frame);
            count.incrementAndGet();
        }

        @Override
        public long freeableBytes() {
            return (long) count.get() * PAGE;
        }

        @Override
        public long shrink(long bytes) {
            askedBy.add(Thread.currentThread().getName());
            boolean reclaimer = Thread.currentThread().getName().equals("pagoda-reclaimer");
            if (refuseReclaimer && reclaimer || onlyReclaimer && !reclaimer) {
                return 0;
            }
            long given = 0;
            Long frame;
            while (given < bytes && (frame = frames.pollLast()) != null) {
                count.decrementAndGet();
                pages.freePages(frame, 0);
                given += PAGE;
            }
            freed.addAndGet(given);
            return given;
        }
    }

    /** Every frame the zones hand out, into the cache, which the caller then registers. */
    private void fillWithEveryFrame(FrameCache cache) {
        for (long frame; (frame = pages.tryAllocatePages(0, Lifetime.SHORT_LIVED)) != 0; ) {
            cache.add(frame);
        }
    }

    /** A shrinker that says it could free a page, and does what {@code shrink} does when asked. */
    private static Shrinker onePage(java.util.function.LongUnaryOperator shrink) {
        return new Shrinker() {
            @Override
            public long freeableBytes() {
                return PAGE;
            }

            @Override
            public long shrink(long bytes) {
                return shrink.applyAsLong(bytes);
            }
        };
    }

    private long freeFrames() {
        return pages.freeBytes() / PAGE;
    }

    /** A counter of the zoneinfo report, by its name. */
    private long counter(String name) {
        java.util.regex.Matcher line = java.util.regex.Pattern.compile("\\s" + name + "\\s+(\\d+)\n").matcher(pages.zoneinfo());
        assertTrue(line.find(), name + " in " + pages.zoneinfo());
        return Long.parseLong(line.group(1));
    }

    private List<Long> allocateUntilFree(long framesLeft) {
        List<Long> held = new ArrayList<>();
        while (freeFrames() > framesLeft) {
            held.add(pages.allocatePages(0));
        }
        return held;
    }

    private static void awaitTrue(String what, java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting until " + what);
            Thread.sleep(1);
        }
    }

    @Test
    void shouldDeriveTheWatermarksFromTheRegionSizeAsTheKernelDoes() {
        try (PageAllocator large = PageAllocator.builder().capacity(64L << 30).build()) {
            Zone zone = large.buddySystem().nodes().get(0).zones().get(0);
            // min_free_kbytes = sqrt(16 * 64 GiB in KiB) = 32 MiB; the low-min gap is 0.1% of 16 Mi frames.
            assertEquals(new Watermarks(8192, 8192 + 16777, 8192 + 2 * 16777), zone.watermarks());
            assertTrue(large.zoneinfo().contains("        min       8192\n        low       24969\n        high      41746\n"),
                    large.zoneinfo());
        }
    }

    @Test
    void shouldStopOrdinaryAllocationsAtMinAndServeCriticalOnesBelowIt() {
        allocator();
        assertEquals(FRAMES - MIN, allocateUntilFree(MIN).size());
        assertThrows(OutOfPagesException.class, () -> pages.allocatePages(0));
        for (int i = 0; i < MIN; i++) {
            pages.allocateCritical(0);
        }
        assertEquals(0, freeFrames());
        assertThrows(OutOfPagesException.class, () -> pages.allocateCritical(0), "nothing is left even below min");
        InvariantChecker.check(pages);
    }

    @Test
    void shouldKeepThePageblockOfACriticalAllocationForTheNextCriticalOnes() {
        allocator();
        Zone zone = pages.buddySystem().zone(0);
        long critical = pages.allocateCritical(1);
        int reserved = pages.region().pfn(critical) & -512;
        assertEquals(1, zone.counters().reservedPageblocks());
        assertEquals(Lifetimes.RESERVE, zone.pageblockType(reserved));
        for (int i = 0; i < 100; i++) {
            int pfn = pages.region().pfn(pages.allocatePages(0));
            assertNotEquals(reserved, pfn & -512, "ordinary allocations stay out of the reserve while there is other memory");
        }
        assertEquals(reserved, pages.region().pfn(pages.allocateCritical(1)) & -512, "the next critical one is served from it");
        InvariantChecker.check(pages);
    }

    @Test
    void shouldGiveTheReserveBackBeforeAnOrdinaryAllocationFails() {
        allocator();
        long critical = pages.allocateCritical(1);
        assertEquals(1, pages.buddySystem().zone(0).counters().reservedPageblocks());
        assertEquals(FRAMES - MIN - 2, allocateUntilFree(MIN).size(), "every frame above min, the reserve's included");
        assertEquals(0, pages.buddySystem().zone(0).counters().reservedPageblocks());
        pages.freePages(critical, 1);
        InvariantChecker.check(pages);
    }

    @Test
    void shouldGiveTheReserveBackBeforeASmallObjectFails() {
        allocator();
        long critical = pages.allocateCritical(1);
        List<Long> objects = new ArrayList<>();
        try {
            while (true) {
                objects.add(pages.allocateAddress(2048));
            }
        } catch (OutOfPagesException full) {
            assertEquals(0, pages.buddySystem().zone(0).counters().reservedPageblocks(), "the reserve gave way before the failure");
        }
        assertTrue(objects.size() > FRAMES, "every frame above min held objects, the reserve's included: " + objects.size());
        objects.forEach(pages::freeAddress);
        pages.freePages(critical, 1);
        InvariantChecker.check(pages);
    }

    /**
     * The reserve's free blocks are for critical allocations only, so they do not count towards an
     * ordinary allocation's watermarks (the kernel leaves nr_reserved_highatomic out of the free
     * pages it checks): with a reserved pageblock nearly all free, the reclaimer wakes when the
     * rest falls below low, though the zone's free frames are far above it.
     */
    @Test
    void shouldWakeTheReclaimerWhenTheMemoryOutsideTheReserveFallsBelowLow() throws InterruptedException {
        allocator();
        FrameCache cache = new FrameCache();
        pages.registerShrinker(cache);
        long critical = pages.allocateCritical(1); // reserves its pageblock: 512 frames, 510 of them free
        assertEquals(1, pages.buddySystem().zone(0).counters().reservedPageblocks());
        long reserveFree = 512 - 2;
        for (long frames = freeFrames() - reserveFree - (LOW - 1); frames > 0; frames--) {
            cache.add(pages.allocatePages(0)); // the last one leaves the ordinary memory below low
        }
        assertTrue(freeFrames() > reserveFree + LOW - 2, "the zone's free frames, reserve included, stay far above low");
        awaitTrue("the reclaimer brought the memory outside the reserve above high", () -> freeFrames() - reserveFree >= HIGH);
        assertEquals(Set.of("pagoda-reclaimer"), cache.askedBy);
        pages.freePages(critical, 1);
        InvariantChecker.check(pages);
    }

    /** The kernel's unregister_shrinker waits for the calls in progress: after it, the owner may tear the cache down. */
    @Test
    void shouldWaitForAShrinkCallInProgressBeforeUnregisterReturns() throws InterruptedException {
        allocator();
        CountDownLatch inShrink = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean callEnded = new AtomicBoolean();
        Shrinker blocking = onePage(bytes -> {
            inShrink.countDown();
            Latches.awaitUninterruptibly(release);
            callEnded.set(true);
            return 0;
        });
        pages.registerShrinker(blocking);
        List<Long> held = allocateUntilFree(LOW - 1); // wakes the reclaimer, which calls the shrinker
        assertTrue(inShrink.await(10, TimeUnit.SECONDS), "the reclaimer called the shrinker");
        AtomicBoolean unregistered = new AtomicBoolean();
        Thread unregistering = Thread.ofPlatform().start(() -> unregistered.set(pages.unregisterShrinker(blocking) && callEnded.get()));
        try {
            unregistering.join(200);
            assertTrue(unregistering.isAlive(), "unregister waits while the call runs");
        } finally {
            release.countDown(); // whatever the outcome: the reclaimer must end for the allocator to close
        }
        unregistering.join();
        assertTrue(unregistered.get(), "unregister returned after the call ended");
        held.forEach(frame -> pages.freePages(frame, 0));
    }

    @Test
    void shouldLetAShrinkerUnregisterItselfFromInsideItsOwnCall() throws InterruptedException {
        allocator();
        CountDownLatch unregistered = new CountDownLatch(1);
        AtomicReference<Shrinker> self = new AtomicReference<>();
        self.set(onePage(bytes -> {
            if (pages.unregisterShrinker(self.get())) {
                unregistered.countDown();
            }
            return 0;
        }));
        pages.registerShrinker(self.get());
        List<Long> held = allocateUntilFree(LOW - 1);
        assertTrue(unregistered.await(10, TimeUnit.SECONDS), "no wait on its own call");
        held.forEach(frame -> pages.freePages(frame, 0));
    }


    @Test
    void shouldFailWithZoneinfoAndServeAgainAsSoonAsMemoryIsFreed() {
        allocator();
        List<Long> held = allocateUntilFree(MIN);
        OutOfPagesException failure = assertThrows(OutOfPagesException.class, () -> pages.allocatePages(0));
        assertTrue(failure.zoneinfo().contains("  pages free     " + MIN + "\n        min       " + MIN + "\n"), failure.zoneinfo());
        assertTrue(failure.getMessage().contains(failure.buddyinfo()) && failure.getMessage().contains(failure.zoneinfo()));
        assertEquals(0, pages.tryAllocatePages(0, Lifetime.SHORT_LIVED), "the try-variant answers 0 instead");
        pages.freePages(held.removeLast(), 0);
        long again = pages.allocatePages(0);
        assertNotEquals(0, again);
        InvariantChecker.check(pages);
    }

    @Test
    void shouldWakeTheReclaimerBelowLowAndReclaimUntilAboveHigh() throws InterruptedException {
        allocator();
        FrameCache cache = new FrameCache();
        pages.registerShrinker(cache);
        while (freeFrames() >= LOW) {
            cache.add(pages.allocatePages(0)); // the last one leaves the zone below low
        }
        // The zone reaches high inside the shrinker's last free, before the reclaimer adds what
        // the shrinker freed to pgsteal_kswapd: wait for the count too.
        awaitTrue("the reclaimer brought the zone above high and counted it",
                () -> freeFrames() >= HIGH && counter("pgsteal_kswapd") >= HIGH - LOW);
        assertEquals(Set.of("pagoda-reclaimer"), cache.askedBy);
        assertTrue(counter("pageoutrun") > 0 && counter("pgsteal_kswapd") >= HIGH - LOW, pages.zoneinfo());
        InvariantChecker.check(pages);
    }

    @Test
    void shouldHaveTheReclaimerGiveBackTheEmptySlabsTheSlabLayerKeeps() throws InterruptedException {
        allocator();
        int sizeClass = io.pagoda.slab.SizeClasses.classOf(1024);
        Thread worker = Thread.ofPlatform().start(() -> {
            List<java.lang.foreign.MemorySegment> objects = new ArrayList<>();
            for (int i = 0; i < 64; i++) {
                objects.add(pages.allocate(1024));
            }
            objects.forEach(pages::free);
        });
        worker.join();
        pages.reapNow(); // the dead worker's magazine goes back: its slabs empty, and two are kept
        assertEquals(2, pages.slabs().emptySlabs(sizeClass));
        allocateUntilFree(LOW - 1);
        awaitTrue("the reclaimer gave the empty slabs back", () -> pages.slabs().emptySlabs(sizeClass) == 0);
        InvariantChecker.check(pages);
    }

    @Test
    void shouldServeALargerOrderFromWhatDirectReclaimFreedIntoTheCallersOwnCache() {
        pages = PageAllocator.builder().capacity(1L << 30).minFreeBytes(0).build(); // caches on: 64-frame batches
        FrameCache cache = new FrameCache();
        cache.refuseReclaimer = true;
        fillWithEveryFrame(cache);
        pages.registerShrinker(cache);
        long pair = pages.allocatePages(1); // the shrinker's frees went to this thread's cache first
        assertTrue(cache.freed.get() > 0);
        pages.freePages(pair, 1);
        InvariantChecker.check(pages);
    }

    @org.junit.jupiter.params.ParameterizedTest(name = "{0} node(s)")
    @org.junit.jupiter.params.provider.ValueSource(ints = {1, 2})
    void shouldServeASmallObjectFromWhatDirectReclaimFreedIntoTheCallersOwnCache(int nodes) {
        pages = PageAllocator.builder().capacity(1L << 30).nodes(nodes).minFreeBytes(0).build(); // caches on: 64-frame batches
        pages.bindCurrentThread(0, MemoryPolicy.LOCAL_PREFERRED); // free to walk to either node
        FrameCache cache = new FrameCache();
        cache.refuseReclaimer = true;
        fillWithEveryFrame(cache);
        pages.registerShrinker(cache);
        java.lang.foreign.MemorySegment object = pages.allocate(16); // a new slab, from what the shrinker freed into this thread's cache
        assertTrue(cache.freed.get() > 0);
        pages.free(object);
        InvariantChecker.check(pages);
    }

    @Test
    void shouldHaveTheReclaimerReclaimWhatTheZoneMissesNotWhatItsOwnCacheKeeps() throws InterruptedException {
        pages = PageAllocator.builder().capacity(1L << 30).build();
        FrameCache cache = new FrameCache();
        cache.onlyReclaimer = true;
        fillWithEveryFrame(cache);
        Zone zone = pages.buddySystem().zone(0);
        long shortfall = zone.watermarks().high() - zone.usableFreeFrames();
        pages.registerShrinker(cache);
        long woke = pages.tryAllocatePages(0, Lifetime.SHORT_LIVED); // below low: wakes the reclaimer
        if (woke != 0) {
            // Its retry took a frame the reclaimer had just freed (and its cache, a batch): back
            // to the zone, where the reclaimer counted them, so that it can reach high.
            pages.freePages(woke, 0);
            pages.trim();
        }
        awaitTrue("the reclaimer brought the zone to high", () -> zone.usableFreeFrames() >= zone.watermarks().high());
        Thread.sleep(200); // and stopped there
        long batch = 64;
        assertTrue(cache.freed.get() / PAGE <= shortfall + batch,
                "asked for " + cache.freed.get() / PAGE + " frames where the zone missed " + shortfall);
    }

    @Test
    void shouldHoldTheReclaimerOffForItsBackoffAfterARunThatFreedNothing() {
        allocator();
        List<Long> held = allocateUntilFree(MIN); // below low, and no shrinker: every run frees nothing
        assertEquals(0, pages.tryAllocatePages(0, Lifetime.SHORT_LIVED)); // the failure path, compiled and loaded
        long start = System.nanoTime();
        long runsBefore = counter("pageoutrun");
        for (long end = start + 500_000_000L; System.nanoTime() < end; ) {
            assertEquals(0, pages.tryAllocatePages(0, Lifetime.SHORT_LIVED)); // each refusal wakes the reclaimer
        }
        long runs = counter("pageoutrun") - runsBefore;
        long backoffs = (System.nanoTime() - start) / 10_000_000L; // a run at most per 10 ms backoff
        assertTrue(runs <= backoffs + 2, runs + " runs in " + backoffs + " backoffs: the wakes cut the backoff short");
        held.forEach(frame -> pages.freePages(frame, 0));
    }

    @Test
    void shouldKeepTheReclaimerRunningAfterAShrinkerThrowsAnError() throws InterruptedException {
        allocator();
        AtomicBoolean thrown = new AtomicBoolean();
        Shrinker broken = onePage(bytes -> {
            if (Thread.currentThread().getName().equals("pagoda-reclaimer") && thrown.compareAndSet(false, true)) {
                throw new AssertionError("a bug in a user's cache");
            }
            return 0;
        });
        pages.registerShrinker(broken);
        FrameCache cache = new FrameCache();
        List<Long> held = allocateUntilFree(LOW - 1); // below low: the reclaimer wakes, and the broken shrinker throws
        awaitTrue("the broken shrinker threw", thrown::get);
        pages.unregisterShrinker(broken);
        for (int i = 0; i < 40; i++) {
            cache.add(held.removeLast());
        }
        pages.registerShrinker(cache);
        pages.freePages(pages.allocatePages(0), 0); // below low still: wakes it again
        awaitTrue("the reclaimer reclaimed again", () -> cache.freed.get() > 0);
    }

    @Test
    void shouldCloseWhileAShrinkerOnTheReclaimerOpensAnArena() throws InterruptedException {
        allocator();
        CountDownLatch inside = new CountDownLatch(1);
        AtomicReference<Throwable> arenaRefused = new AtomicReference<>();
        pages.registerShrinker(onePage(bytes -> {
            if (Thread.currentThread().getName().equals("pagoda-reclaimer") && inside.getCount() > 0) {
                inside.countDown();
                try {
                    Thread.sleep(300); // close() starts meanwhile, and joins this thread
                    pages.newConfinedArena().close();
                } catch (IllegalStateException | InterruptedException refused) {
                    arenaRefused.set(refused);
                }
            }
            return 0;
        }));
        allocateUntilFree(LOW - 1); // wakes the reclaimer
        assertTrue(inside.await(10, TimeUnit.SECONDS));
        Thread closer = Thread.ofPlatform().start(pages::close);
        closer.join(TimeUnit.SECONDS.toMillis(10));
        assertFalse(closer.isAlive(), "close() hung");
        assertTrue(arenaRefused.get() instanceof IllegalStateException, "the arena was refused: " + arenaRefused.get());
        pages = null;
    }

    @Test
    void shouldReclaimOnTheAllocatingThreadWhenItReachesMin() {
        allocator();
        FrameCache cache = new FrameCache();
        cache.refuseReclaimer = true;
        pages.registerShrinker(cache);
        List<Long> held = allocateUntilFree(MIN);
        for (int i = 0; i < 40; i++) {
            cache.add(held.removeLast()); // now it could give back 40 frames
        }
        long frame = pages.allocatePages(0);
        assertNotEquals(0, frame);
        assertTrue(cache.askedBy.contains(Thread.currentThread().getName()), "asked by " + cache.askedBy);
        assertEquals(1, counter("allocstall"), pages.zoneinfo());
        InvariantChecker.check(pages);
    }

    @Test
    void shouldLetAShrinkerAllocateBelowMinWithoutStartingAnotherReclaim() {
        allocator();
        AtomicLong allocatedInside = new AtomicLong();
        Shrinker needsMemoryToFree = onePage(bytes -> {
            if (allocatedInside.get() == 0) {
                allocatedInside.set(pages.allocatePages(0)); // below min: no recursion, no failure
            }
            return 0;
        });
        pages.registerShrinker(needsMemoryToFree);
        allocateUntilFree(MIN);
        assertThrows(OutOfPagesException.class, () -> pages.allocatePages(0));
        assertNotEquals(0, allocatedInside.get(), "the shrinker's own allocation was served");
        InvariantChecker.check(pages);
    }

    @Test
    void shouldSkipAShrinkerThatThrowsAndCountIt() {
        allocator();
        FrameCache cache = new FrameCache();
        pages.registerShrinker(new Shrinker() {
            @Override
            public long freeableBytes() {
                throw new IllegalStateException("broken cache");
            }

            @Override
            public long shrink(long bytes) {
                return 0;
            }
        });
        cache.refuseReclaimer = true;
        pages.registerShrinker(cache);
        List<Long> held = allocateUntilFree(MIN);
        cache.add(held.removeLast());
        cache.add(held.removeLast());
        pages.allocatePages(0); // reclaims from the working cache
        assertTrue(counter("shrinker_failures") > 0, pages.zoneinfo());
        InvariantChecker.check(pages);
    }

    @Test
    void shouldRefuseToRegisterAShrinkerTwice() {
        allocator();
        FrameCache cache = new FrameCache();
        pages.registerShrinker(cache);
        assertThrows(IllegalArgumentException.class, () -> pages.registerShrinker(cache));
        assertTrue(pages.unregisterShrinker(cache));
        assertFalse(pages.unregisterShrinker(cache));
    }

    @Test
    void shouldKeepEveryInvariantWhileThreadsAllocateAgainstTheWatermarks() throws InterruptedException {
        // Caches on: refills stop at min too. Four threads keep a shared cache of frames full while
        // the reclaimer and their own direct reclaim take frames back out of it.
        pages = PageAllocator.builder().capacity(8L << 20).minFreeBytes(256L * PAGE).build();
        FrameCache cache = new FrameCache();
        pages.registerShrinker(cache);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicLong critical = new AtomicLong();
        // At least 1500 ms of traffic, and at least twice as many frames put in the cache as the
        // zone has: only reclaim takes frames out of it, so by then reclaim has happened many
        // times however slowly the threads ran (the debug mode records a stack per call, and a
        // busy machine may give them little of its time).
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1500);
        long enough = 2 * pages.capacity() / PAGE;
        AtomicLong cached = new AtomicLong();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            long seed = t;
            threads.add(Thread.ofPlatform().start(() -> {
                SplittableRandom random = new SplittableRandom(seed);
                List<long[]> own = new ArrayList<>();
                try {
                    while (System.nanoTime() < end || cached.get() < enough) {
                        int order = random.nextInt(3);
                        if (random.nextInt(16) == 0) {
                            long block = pages.tryAllocatePages(order, Lifetime.SHORT_LIVED);
                            if (block == 0) {
                                own.add(new long[] {pages.allocateCritical(0), 0});
                                critical.incrementAndGet();
                            } else {
                                own.add(new long[] {block, order});
                            }
                        } else if (order == 0) {
                            cache.add(pages.allocatePages(0));
                            cached.incrementAndGet();
                        }
                        if (own.size() > 8) {
                            long[] block = own.remove(random.nextInt(own.size()));
                            pages.freePages(block[0], (int) block[1]);
                        }
                    }
                    own.forEach(block -> pages.freePages(block[0], (int) block[1]));
                } catch (Throwable t2) {
                    failure.compareAndSet(null, t2);
                }
            }));
        }
        for (Thread thread : threads) {
            thread.join();
        }
        if (failure.get() != null) {
            throw new AssertionError("a thread failed", failure.get());
        }
        // Waits for a call in progress (the reclaimer's, typically, in the middle of a run the
        // workers started): then the frames left are the test's alone.
        pages.unregisterShrinker(cache);
        cache.frames.forEach(frame -> pages.freePages(frame, 0));
        pages.trim();
        InvariantChecker.check(pages);
        assertEquals(pages.capacity(), pages.freeBytes(), "every frame came back");
        assertTrue(counter("pgsteal_kswapd") + counter("pgsteal_direct") > 0, "memory was reclaimed: " + pages.zoneinfo());
    }
}
