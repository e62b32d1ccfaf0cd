package io.pagoda;

import io.pagoda.pcp.CacheSnapshot;
import io.pagoda.region.NativeMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.lang.ref.WeakReference;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.net.URL;
import java.net.URLClassLoader;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import javax.management.JMException;
import javax.management.ObjectName;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Nodes (the kernel's NUMA nodes): slices of the region with zones of their own, threads mapped
 * to them by thread group, binding and turn, memory policies, fallback by distance.
 */
class NodeTest {

    private static final long MAX_BLOCK = 4L << 20;
    private static final int PAGE = 4096;

    private PageAllocator pages;

    @AfterEach
    void close() {
        if (pages != null) {
            pages.close();
        }
    }

    /** Two nodes of two largest blocks each; no caches and no min, so every call reaches a zone and every frame can be had. */
    private PageAllocator twoNodes() {
        pages = PageAllocator.builder().capacity(4 * MAX_BLOCK).nodes(2).cachedOrders(0).minFreeBytes(0).build();
        return pages;
    }

    /** {@link #twoNodes()} with the per-thread caches on. */
    private PageAllocator twoNodesWithCaches() {
        pages = PageAllocator.builder().capacity(4 * MAX_BLOCK).nodes(2).minFreeBytes(0).build();
        return pages;
    }

    /**
     * {@link #twoNodesWithCaches()} for a test that counts what a live thread's cache holds: idle
     * caches are the reaper's to drain, and an hour's idle timeout keeps it out of the test.
     */
    private PageAllocator twoNodesWithCachesNeverIdle() {
        pages = PageAllocator.builder().capacity(4 * MAX_BLOCK).nodes(2).minFreeBytes(0).cacheIdleTimeout(Duration.ofHours(1)).build();
        return pages;
    }

    private int nodeOf(long address) {
        return pages.buddySystem().nodeOf(pages.region().pfn(address));
    }

    /** HotSpot's count of the heap bytes the calling thread allocated, through JMX (the type that has it is not in java.management). */
    private static long heapBytesAllocatedByThisThread() {
        try {
            return (Long) ManagementFactory.getPlatformMBeanServer()
                    .getAttribute(new ObjectName(ManagementFactory.THREAD_MXBEAN_NAME), "CurrentThreadAllocatedBytes");
        } catch (JMException e) {
            throw new AssertionError(e);
        }
    }

    private int onNewThread(ThreadGroup group, java.util.function.IntSupplier work) throws InterruptedException {
        int[] result = new int[1];
        Thread thread = Thread.ofPlatform().group(group).start(() -> result[0] = work.getAsInt());
        thread.join();
        return result[0];
    }

    @Test
    void shouldCutTheRegionIntoASliceWithAZoneOfItsOwnPerNode() {
        twoNodes();
        assertEquals(2, pages.nodes());
        assertEquals("Node 0, zone   Normal      0      0      0      0      0      0      0      0      0      0      2 \n"
                + "Node 1, zone   Normal      0      0      0      0      0      0      0      0      0      0      2 \n", pages.buddyinfo());
        assertTrue(pages.zoneinfo().contains("Node 1, zone   Normal\n  pages free     2048\n"), pages.zoneinfo());
        InvariantChecker.check(pages);
    }

    @Test
    void shouldFindTheNodeOfEveryFrameWhateverTheSliceSize() {
        // slices of 1, 2 and 5120 frames; the last node takes the rest
        long[][] shapes = {{3, 0, 3}, {7, 0, 3}, {3 * 5120 + 1000, 10, 3}, {4 * 1024 * 3 + 7, 10, 4}};
        for (long[] shape : shapes) {
            try (PageAllocator nodes = PageAllocator.builder().capacity(shape[0] * PAGE).maxOrder((int) shape[1])
                    .nodes((int) shape[2]).cachedOrders(0).minFreeBytes(0).build()) {
                int frames = (int) shape[0];
                int count = (int) shape[2];
                int slice = (frames / count) & -(1 << shape[1]);
                for (int pfn = 0; pfn < frames; pfn++) {
                    assertEquals(Math.min(pfn / slice, count - 1), nodes.buddySystem().nodeOf(pfn),
                            "frame " + pfn + " of " + frames + " in slices of " + slice);
                }
            }
        }
    }

    @Test
    void shouldAllocateFromTheNodeOfTheThreadsGroup() throws InterruptedException {
        twoNodes();
        ThreadGroup first = new ThreadGroup("first");
        ThreadGroup second = new ThreadGroup("second");
        ThreadGroup inSecond = new ThreadGroup(second, "a subgroup");
        pages.bindThreadGroup(first, 0);
        pages.bindThreadGroup(second, 1);
        assertEquals(0, onNewThread(first, () -> nodeOf(pages.allocatePages(0))));
        assertEquals(1, onNewThread(second, () -> nodeOf(pages.allocatePages(0))));
        assertEquals(1, onNewThread(inSecond, () -> nodeOf(pages.allocatePages(0))), "a subgroup follows its parent");
        assertEquals(1, onNewThread(second, pages::currentNode));
    }

    @Test
    void shouldGiveUnboundThreadsTheNodesInTurn() throws InterruptedException {
        twoNodes();
        int[] perNode = new int[2];
        for (int i = 0; i < 6; i++) {
            perNode[onNewThread(Thread.currentThread().getThreadGroup(), () -> nodeOf(pages.allocatePages(0)))]++;
        }
        assertEquals(3, perNode[0]);
        assertEquals(3, perNode[1]);
    }

    @Test
    void shouldFallBackToTheNearestNodeWhenItsOwnIsFull() {
        pages = PageAllocator.builder().capacity(3 * MAX_BLOCK).nodes(3).cachedOrders(0).minFreeBytes(0)
                .nodeDistances(new int[][] {{10, 30, 20}, {30, 10, 20}, {20, 20, 10}}).build();
        pages.bindCurrentThread(0, MemoryPolicy.LOCAL_PREFERRED);
        for (int i = 0; i < 1024; i++) {
            assertEquals(0, nodeOf(pages.allocatePages(0)));
        }
        assertEquals(2, nodeOf(pages.allocatePages(0)), "node 2 is nearer to node 0 than node 1 is");
        InvariantChecker.check(pages);
    }

    /**
     * As the kernel's fast path tries every zone of the zonelist before its slow path drains the
     * per-CPU lists: a block another thread's cache holds on the thread's own node is left there
     * while a nearer-than-nothing node has memory.
     */
    @Test
    void shouldFallBackToTheNextNodeBeforeDrainingAnotherThreadsCache() throws InterruptedException {
        twoNodesWithCachesNeverIdle();
        CountDownLatch holding = new CountDownLatch(1);
        CountDownLatch done = new CountDownLatch(1);
        Thread holder = Thread.ofPlatform().start(() -> {
            pages.bindCurrentThread(0, MemoryPolicy.LOCAL_PREFERRED);
            List<Long> nodeZero = new ArrayList<>();
            for (long block = pages.allocatePages(0); nodeOf(block) == 0; block = pages.allocatePages(0)) {
                nodeZero.add(block);
            }
            pages.freePages(nodeZero.getFirst(), 0); // node 0's only free frame, in this thread's cache
            holding.countDown();
            Latches.awaitUninterruptibly(done);
        });
        try {
            assertTrue(holding.await(10, TimeUnit.SECONDS), "the holder took node 0 and cached one block");
            assertEquals(1, pages.threadCaches().get(0).cachedFrames());
            pages.bindCurrentThread(0, MemoryPolicy.LOCAL_PREFERRED);
            assertEquals(1, nodeOf(pages.allocatePages(0)), "node 1 has memory: no drain of node 0's caches");
            assertEquals(1, pages.threadCaches().get(0).cachedFrames(), "the other thread's cache kept its block");
        } finally {
            done.countDown();
            holder.join();
        }
    }


    @Test
    void shouldFailRatherThanLeaveTheNodeUnderBind() {
        twoNodes();
        pages.bindCurrentThread(0, MemoryPolicy.BIND);
        for (int i = 0; i < 2; i++) {
            assertEquals(0, nodeOf(pages.allocatePages(10)));
        }
        String before = pages.buddyinfo();
        assertThrows(OutOfPagesException.class, () -> pages.allocatePages(0), "node 1 is free, but bound to node 0");
        assertEquals(before, pages.buddyinfo(), "the failure changed nothing");
        pages.bindCurrentThread(0, MemoryPolicy.LOCAL_PREFERRED);
        assertEquals(1, nodeOf(pages.allocatePages(0)), "preferring node 0, it may go on to node 1");
        InvariantChecker.check(pages);
    }

    @Test
    void shouldKeepEachThreadsBindingApartThoughManyThreadsShareTheSlotsOfItsFastLookup() throws InterruptedException {
        twoNodesWithCaches();
        int threads = 256; // several times the slots of the bindings' thread-id table
        CountDownLatch allBound = new CountDownLatch(threads);
        AtomicInteger misplaced = new AtomicInteger();
        AtomicInteger finished = new AtomicInteger(); // a thread that threw counts nothing: it must fail the test too
        List<Thread> started = new ArrayList<>();
        SplittableRandom random = new SplittableRandom(42);
        for (int i = 0; i < threads; i++) {
            int node = random.nextInt(2); // not by thread id: threads that share a slot must differ
            started.add(Thread.ofPlatform().start(() -> {
                pages.bindCurrentThread(node, MemoryPolicy.BIND);
                allBound.countDown();
                Latches.awaitUninterruptibly(allBound); // threads bound later may hold the slots of those bound earlier
                for (int j = 0; j < 8; j++) {
                    long block = pages.allocatePages(0);
                    long object = pages.allocateAddress(64);
                    if (nodeOf(block) != node || nodeOf(object) != node) {
                        misplaced.incrementAndGet();
                    }
                    pages.freePages(block, 0);
                    pages.freeAddress(object);
                }
                finished.incrementAndGet();
            }));
        }
        for (Thread thread : started) {
            thread.join();
        }
        assertEquals(threads, finished.get(), "threads that ran to the end");
        assertEquals(0, misplaced.get(), "allocations made on a node other than the thread's own, under BIND");
        InvariantChecker.check(pages);
    }

    @Test
    void shouldSpreadAllocationsOverEveryNodeUnderInterleaveAndPutTheBindingBackAfterwards() {
        twoNodes();
        pages.bindCurrentThread(1, MemoryPolicy.LOCAL_PREFERRED);
        int[] perNode = new int[2];
        pages.runOnNode(0, MemoryPolicy.INTERLEAVE, () -> {
            for (int i = 0; i < 8; i++) {
                perNode[nodeOf(pages.allocatePages(2))]++;
            }
        });
        assertEquals(4, perNode[0]);
        assertEquals(4, perNode[1]);
        assertEquals(1, pages.currentNode(), "the thread's own binding is back");
        assertThrows(IllegalStateException.class, () -> pages.runOnNode(0, MemoryPolicy.BIND, () -> {
            throw new IllegalStateException("work failed");
        }));
        assertEquals(1, pages.currentNode(), "back even when the work throws");
    }

    @Test
    void shouldFreeABlockIntoTheCachesOfItsOwnNodeWhateverThreadFreesIt() throws InterruptedException {
        twoNodesWithCaches();
        pages.bindCurrentThread(0, MemoryPolicy.LOCAL_PREFERRED);
        long block = pages.allocatePages(0);
        pages.trim();
        ThreadGroup second = new ThreadGroup("second");
        pages.bindThreadGroup(second, 1);
        assertEquals(1, onNewThread(second, () -> {
            pages.freePages(block, 0);
            return pages.threadCaches().get(0).cachedFrames() == 1 && pages.threadCaches().get(1).cachedFrames() == 0 ? 1 : 0;
        }), "the block went to a cache of node 0, on the freeing thread of node 1");
        assertEquals(0, nodeOf(block));
        InvariantChecker.check(pages);
        pages.trim();
        assertEquals(pages.capacity(), pages.freeBytes());
    }

    @Test
    void shouldKeepEveryInvariantWhileThreadsOfTwoNodesFreeEachOthersBlocks() throws InterruptedException {
        pages = PageAllocator.builder().capacity(8 * MAX_BLOCK).nodes(2).build();
        ConcurrentLinkedQueue<long[]> handOff = new ConcurrentLinkedQueue<>();
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1000);
        onFourThreads(t -> {
            pages.bindCurrentThread(t % 2, t < 2 ? MemoryPolicy.LOCAL_PREFERRED : MemoryPolicy.INTERLEAVE);
            SplittableRandom random = new SplittableRandom(t);
            List<long[]> own = new ArrayList<>();
            while (System.nanoTime() < end) {
                int order = random.nextInt(5);
                long block = pages.tryAllocatePages(order, Lifetime.SHORT_LIVED);
                if (block != 0) {
                    stamp(block, order);
                    (random.nextBoolean() ? own : handOff).add(new long[] {block, order});
                }
                long[] theirs = handOff.poll();
                if (theirs != null) {
                    checkAndFree(theirs);
                }
                if (own.size() > 16) {
                    checkAndFree(own.remove(random.nextInt(own.size())));
                }
            }
            own.forEach(this::checkAndFree);
        });
        for (long[] block; (block = handOff.poll()) != null; ) {
            pages.freePages(block[0], (int) block[1]);
        }
        InvariantChecker.check(pages);
        pages.trim();
        assertEquals(pages.capacity(), pages.freeBytes(), "every frame back in its node");
    }

    @Test
    void shouldServeSmallObjectsFromTheBoundNodeOnlyWhileAnotherNodesSlabsHaveRoom() throws InterruptedException {
        twoNodes();
        pages.bindCurrentThread(0, MemoryPolicy.BIND);
        MemorySegment first = pages.allocate(16); // a slab of node 0, with room for more than a magazine takes
        assertEquals(0, nodeOf(first.address()));
        ThreadGroup second = new ThreadGroup("second");
        pages.bindThreadGroup(second, 1);
        assertEquals(0, onNewThread(second, () -> {
            pages.bindCurrentThread(1, MemoryPolicy.BIND);
            return objectsOffNode(1, 100, 16);
        }), "objects of node 0's slab given to a thread bound to node 1");
        pages.free(first);
        InvariantChecker.check(pages);
        pages.trim();
        assertEquals(pages.capacity(), pages.freeBytes());
    }

    @Test
    void shouldSumEachSlabClassOverTheNodesInSlabinfo() throws InterruptedException {
        twoNodes();
        pages.bindCurrentThread(0, MemoryPolicy.BIND);
        long onNodeZero = pages.allocateAddress(16);
        ThreadGroup second = new ThreadGroup("second");
        pages.bindThreadGroup(second, 1);
        long[] onNodeOne = new long[1];
        onNewThread(second, () -> {
            onNodeOne[0] = pages.allocateAddress(16);
            return 0;
        });
        String line = pages.slabinfo().lines().filter(l -> l.startsWith("pagoda-16 ")).findFirst().orElseThrow();
        assertTrue(line.endsWith(": slabdata      2      2      0"), "a slab on each node: " + line);
        pages.freeAddress(onNodeZero);
        pages.freeAddress(onNodeOne[0]);
    }

    @Test
    void shouldFailASmallObjectRatherThanLeaveTheNodeUnderBind() throws InterruptedException {
        twoNodes();
        ThreadGroup second = new ThreadGroup("second");
        pages.bindThreadGroup(second, 1);
        long[] onNodeOne = new long[1];
        onNewThread(second, () -> {
            onNodeOne[0] = pages.allocateAddress(64); // a slab of node 1, with room for many more
            return 0;
        });
        assertEquals(1, nodeOf(onNodeOne[0]));
        pages.bindCurrentThread(0, MemoryPolicy.BIND);
        long[] nodeZero = {pages.allocatePages(10), pages.allocatePages(10)};
        String before = pages.buddyinfo();
        assertThrows(OutOfPagesException.class, () -> pages.allocate(64), "node 1's slab has room, but the thread is bound to node 0");
        assertEquals(before, pages.buddyinfo(), "the failure changed nothing");
        pages.bindCurrentThread(0, MemoryPolicy.LOCAL_PREFERRED);
        MemorySegment fallback = pages.allocate(64);
        assertEquals(1, nodeOf(fallback.address()), "preferring node 0, it may go on to node 1");
        pages.free(fallback);
        pages.freeAddress(onNodeOne[0]);
        for (long block : nodeZero) {
            pages.freePages(block, 10);
        }
        InvariantChecker.check(pages);
        pages.trim();
        assertEquals(pages.capacity(), pages.freeBytes());
    }

    @Test
    void shouldFallBackToTheNextNodeForASmallObjectWithoutDrainingAnyCache() throws InterruptedException {
        twoNodesWithCachesNeverIdle();
        ThreadGroup second = new ThreadGroup("second");
        pages.bindThreadGroup(second, 1);
        CountDownLatch holding = new CountDownLatch(1);
        CountDownLatch done = new CountDownLatch(1);
        // Alive to the end: a dead thread's cache goes back at the reaper's next tick, which came
        // between the two reads of cachedBytes once in a while.
        Thread holder = Thread.ofPlatform().group(second).start(() -> { // leaves its page cache of node 1 full
            long[] blocks = new long[8];
            for (int i = 0; i < blocks.length; i++) {
                blocks[i] = pages.allocatePages(0);
            }
            for (long block : blocks) {
                pages.freePages(block, 0);
            }
            holding.countDown();
            Latches.awaitUninterruptibly(done);
        });
        try {
            assertTrue(holding.await(10, TimeUnit.SECONDS), "the holder filled its cache");
            long cached = pages.cachedBytes();
            assertTrue(cached > 0);
            pages.bindCurrentThread(0, MemoryPolicy.BIND);
            long[] nodeZero = {pages.allocatePages(10, Lifetime.LONG_LIVED), pages.allocatePages(10, Lifetime.LONG_LIVED)};
            pages.bindCurrentThread(0, MemoryPolicy.LOCAL_PREFERRED);
            MemorySegment object = pages.allocate(64);
            assertEquals(1, nodeOf(object.address()), "node 0 is full: node 1 serves");
            assertEquals(cached, pages.cachedBytes(), "node 1 had room: no cache was drained");
            pages.free(object);
            for (long block : nodeZero) {
                pages.freePages(block, 10);
            }
        } finally {
            done.countDown();
            holder.join();
        }
        InvariantChecker.check(pages);
    }

    @Test
    void shouldMakeNoMagazinesOnTheNodesAFallbackWalksPast() {
        pages = PageAllocator.builder().capacity(8 * MAX_BLOCK).nodes(4).cachedOrders(0).minFreeBytes(0).build();
        List<Long> full = new ArrayList<>();
        for (int node = 0; node < 3; node++) {
            pages.bindCurrentThread(node, MemoryPolicy.BIND);
            full.add(pages.allocatePages(10));
            full.add(pages.allocatePages(10));
        }
        pages.bindCurrentThread(0, MemoryPolicy.LOCAL_PREFERRED);
        MemorySegment object = pages.allocate(64);
        assertEquals(3, nodeOf(object.address()), "nodes 0 to 2 are full");
        assertEquals(List.of(Thread.currentThread().getName() + " (node 0)"),
                pages.slabs().snapshots().stream().map(CacheSnapshot::name).toList(),
                "magazines only where the walk starts: none on the full nodes passed, none for one object taken");
        pages.free(object); // the freeing thread's magazines of the object's node: the kernel's alien cache
        assertEquals(2, pages.slabs().snapshots().size());
        full.forEach(block -> pages.freePages(block, 10));
        InvariantChecker.check(pages);
    }

    @Test
    void shouldTakeObjectsFromANodeWhereTheThreadHasNoMagazinesWithoutAllocatingOnTheHeap() {
        // Without the debug mode, which records each allocation on the heap by design.
        pages = PageAllocator.builder().capacity(4 * MAX_BLOCK).nodes(2).cachedOrders(0).minFreeBytes(0).debug(false).build();
        pages.bindCurrentThread(0, MemoryPolicy.BIND);
        long[] nodeZero = {pages.allocatePages(10, Lifetime.LONG_LIVED), pages.allocatePages(10, Lifetime.LONG_LIVED)};
        pages.bindCurrentThread(0, MemoryPolicy.LOCAL_PREFERRED);
        // The thread never frees on node 1, so it has no magazines there: each object comes
        // straight from node 1's slabs, one at a time.
        long[] objects = new long[20_000];
        int warm = 1_000;
        for (int i = 0; i < warm; i++) {
            objects[i] = pages.allocateAddress(64);
        }
        long before = heapBytesAllocatedByThisThread();
        for (int i = warm; i < objects.length; i++) {
            objects[i] = pages.allocateAddress(64);
        }
        long heapBytes = heapBytesAllocatedByThisThread() - before;
        assertTrue(heapBytes < objects.length - warm, heapBytes + " bytes of heap for " + (objects.length - warm) + " objects");
        for (long object : objects) {
            assertEquals(1, nodeOf(object));
            pages.freeAddress(object);
        }
        for (long block : nodeZero) {
            pages.freePages(block, 10);
        }
        InvariantChecker.check(pages);
    }

    @Test
    void shouldPassTheInterleaveTurnOnForANewSlabNotForEachObject() {
        twoNodes();
        int[] pagesPerNode = new int[2];
        List<MemorySegment> rows = new ArrayList<>();
        pages.runOnNode(0, MemoryPolicy.INTERLEAVE, () -> {
            for (int i = 0; i < 64; i++) {
                pagesPerNode[nodeOf(pages.allocatePages(0))]++;
                rows.add(pages.allocate(64)); // one slab holds 64 of them: a turn passed once
            }
        });
        assertTrue(Math.abs(pagesPerNode[0] - pagesPerNode[1]) <= 2,
                "a table's pages and its rows' objects: the pages spread evenly, " + pagesPerNode[0] + " / " + pagesPerNode[1]);
        rows.forEach(pages::free);
    }

    @Test
    void shouldFreeASmallObjectBackToItsOwnNodeWhateverThreadFreesIt() throws InterruptedException {
        twoNodes();
        pages.bindCurrentThread(0, MemoryPolicy.BIND);
        List<MemorySegment> nodeZeroObjects = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            nodeZeroObjects.add(pages.allocate(512));
        }
        ThreadGroup second = new ThreadGroup("second");
        pages.bindThreadGroup(second, 1);
        assertEquals(0, onNewThread(second, () -> {
            pages.bindCurrentThread(1, MemoryPolicy.BIND);
            nodeZeroObjects.forEach(pages::free); // into this thread's magazine of node 0, not of node 1
            return objectsOffNode(1, 64, 512);
        }), "node 0's objects, freed on a thread of node 1, handed out again there");
        InvariantChecker.check(pages);
        pages.trim();
        assertEquals(pages.capacity(), pages.freeBytes(), "every object back in its node's slabs, every slab in its zone");
    }

    @Test
    void shouldKeepEveryInvariantWhileBoundThreadsOfTwoNodesFreeEachOthersObjects() throws InterruptedException {
        pages = PageAllocator.builder().capacity(8 * MAX_BLOCK).nodes(2).build();
        ConcurrentLinkedQueue<MemorySegment> handOff = new ConcurrentLinkedQueue<>();
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1000);
        onFourThreads(t -> {
            int node = t % 2;
            pages.bindCurrentThread(node, MemoryPolicy.BIND);
            SplittableRandom random = new SplittableRandom(t);
            List<MemorySegment> own = new ArrayList<>();
            while (System.nanoTime() < end) {
                MemorySegment object = pages.allocate(16 + random.nextInt(4000));
                assertEquals(node, nodeOf(object.address()), "an object from a node the binding excludes");
                object.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, object.address());
                (random.nextBoolean() ? own : handOff).add(object);
                MemorySegment theirs = handOff.poll();
                if (theirs != null) {
                    assertEquals(theirs.address(), theirs.get(ValueLayout.JAVA_LONG_UNALIGNED, 0), "an object held twice");
                    pages.free(theirs);
                }
                if (own.size() > 64) {
                    pages.free(own.remove(random.nextInt(own.size())));
                }
            }
            own.forEach(pages::free);
        });
        for (MemorySegment object; (object = handOff.poll()) != null; ) {
            pages.free(object);
        }
        InvariantChecker.check(pages);
        pages.trim();
        assertEquals(pages.capacity(), pages.freeBytes(), "every object and slab back in its node");
    }

    /** Allocates {@code count} objects of {@code size} bytes on this thread, frees them, and counts those not on {@code node}. */
    private int objectsOffNode(int node, int count, long size) {
        List<MemorySegment> objects = new ArrayList<>();
        int elsewhere = 0;
        for (int i = 0; i < count; i++) {
            MemorySegment object = pages.allocate(size);
            elsewhere += nodeOf(object.address()) == node ? 0 : 1;
            objects.add(object);
        }
        objects.forEach(pages::free);
        return elsewhere;
    }

    /** Runs {@code work(t)} on four threads at once, t from 0 to 3; fails with the first thread's failure. */
    private static void onFourThreads(java.util.function.IntConsumer work) throws InterruptedException {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            int index = t;
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    work.accept(index);
                } catch (Throwable thrown) {
                    failure.compareAndSet(null, thrown);
                }
            }));
        }
        for (Thread thread : threads) {
            thread.join();
        }
        if (failure.get() != null) {
            throw new AssertionError("a thread failed", failure.get());
        }
    }

    /** Writes the block's address into its first and last words, so that a block handed out twice shows. */
    private void stamp(long block, int order) {
        MemorySegment memory = MemorySegment.ofAddress(block).reinterpret(pages.blockSize(order));
        memory.set(ValueLayout.JAVA_LONG, 0, block);
        memory.set(ValueLayout.JAVA_LONG, memory.byteSize() - 8, block);
    }

    private void checkAndFree(long[] block) {
        MemorySegment memory = MemorySegment.ofAddress(block[0])
                .reinterpret(pages.blockSize((int) block[1]));
        assertEquals(block[0], memory.get(ValueLayout.JAVA_LONG, 0), "a block held twice");
        assertEquals(block[0], memory.get(ValueLayout.JAVA_LONG, memory.byteSize() - 8), "a block held twice");
        pages.freePages(block[0], (int) block[1]);
    }

    @Test
    void shouldNotCountAnEmptyZonesRefusalsAsTheMinWatermarks() {
        twoNodes();
        pages.bindCurrentThread(0, MemoryPolicy.LOCAL_PREFERRED);
        pages.allocatePages(10);
        pages.allocatePages(10); // node 0 empty
        for (int i = 0; i < 100; i++) {
            assertEquals(1, nodeOf(pages.allocatePages(0)));
        }
        assertEquals(0, pages.buddySystem().zone(0).counters().minWatermarkRefusals(),
                "node 0 has nothing, and a min of 0: no watermark kept anything from anyone");
    }

    @Test
    void shouldNameEachNodesCachesApartInThePerCacheStatistics() {
        twoNodesWithCaches();
        for (int node = 0; node < 2; node++) {
            pages.bindCurrentThread(node, MemoryPolicy.BIND);
            pages.freePages(pages.allocatePages(0), 0); // this thread now has a cache on each node
        }
        List<String> names = pages.perCacheStatistics().stream().map(CacheStatistics::name).toList();
        assertEquals(names.size(), new java.util.HashSet<>(names).size(), "no two alike: " + names);
        String thread = Thread.currentThread().getName();
        assertTrue(names.contains(thread + " (node 0)") && names.contains(thread + " (node 1)"), names.toString());
    }

    @Test
    void shouldRefuseBadNodeSettings() {
        assertThrows(IllegalArgumentException.class, () -> PageAllocator.builder().nodes(0));
        assertThrows(IllegalArgumentException.class, () -> PageAllocator.builder().nodes(PageAllocator.MAX_NODES + 1));
        IllegalArgumentException tooSmall = assertThrows(IllegalArgumentException.class,
                () -> PageAllocator.builder().capacity(MAX_BLOCK).nodes(2).build());
        assertTrue(tooSmall.getMessage().contains("too few for 2 nodes"), tooSmall.getMessage());
        IllegalArgumentException notSquare = assertThrows(IllegalArgumentException.class,
                () -> PageAllocator.builder().capacity(2 * MAX_BLOCK).nodes(2).nodeDistances(new int[][] {{10, 20}}).build());
        assertTrue(notSquare.getMessage().contains("2 x 2"), notSquare.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> PageAllocator.builder().capacity(2 * MAX_BLOCK).nodes(2).nodeDistances(new int[][] {{10, 5}, {20, 10}}).build());
        twoNodes();
        assertThrows(IllegalArgumentException.class, () -> pages.bindCurrentThread(2, MemoryPolicy.BIND));
        assertThrows(IllegalArgumentException.class, () -> pages.bindThreadGroup(new ThreadGroup("g"), -1));
    }

    @Test
    void shouldSayWhatItBoundToTheMachinesNumaNodes() {
        pages = PageAllocator.builder().capacity(4 * MAX_BLOCK).nodes(2).bindToPhysicalNodes(true).build();
        if (NativeMemory.onlineNodes().length == 1) {
            assertTrue(pages.physicalBinding().startsWith("one NUMA node on this machine"), pages.physicalBinding());
        } else {
            assertTrue(pages.physicalBinding().contains("node 1 -> NUMA node"), pages.physicalBinding());
        }
        pages.freePages(pages.allocatePages(0), 0);
    }

    @Test
    void shouldBindAMappingToNumaNodeZeroAndRefuseANodeThatDoesNotExist() {
        long length = 2 * MAX_BLOCK;
        long address = NativeMemory.reserve(length);
        try {
            NativeMemory.bindToNode(address, length, 0); // every Linux machine has node 0
            MemorySegment.ofAddress(address).reinterpret(length).set(ValueLayout.JAVA_LONG, 0, 42L);
            assertThrows(IllegalStateException.class, () -> NativeMemory.bindToNode(address, length, 63));
        } finally {
            NativeMemory.release(address, length);
        }
    }

    // ---------------------------------------------------------------- bindings where pools wipe thread locals

    private NodeMap nodeMap() {
        try {
            Field frames = PageAllocator.class.getDeclaredField("frames");
            frames.setAccessible(true);
            return ((NodeFrames) frames.get(pages)).nodeMap();
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    /**
     * What a pool that wipes its threads' ThreadLocals between tasks (Thread.threadLocals = null,
     * as Tomcat's and some executors' "renew" do) does to this allocator: the current thread's
     * entry of the NodeMap's ThreadLocal is gone. (Wiping Thread.threadLocals itself needs
     * --add-opens java.base/java.lang; removing the one entry is the same for NodeMap.)
     */
    private void wipeThreadLocals() {
        try {
            Field bindings = NodeMap.class.getDeclaredField("bindings");
            bindings.setAccessible(true);
            ((ThreadLocal<?>) bindings.get(nodeMap())).remove();
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    /** Starts a platform thread of the current thread's slot of the bindings' table, and has it make its first binding. */
    private void anotherThreadTakesMySlot() {
        Thread other = unstartedInSlot(Thread.currentThread().threadId() & (table().length - 1), false, pages::currentNode);
        other.start();
        try {
            other.join();
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    private <T> T onThreadOfGroupBoundToNodeZero(Supplier<T> work) throws InterruptedException {
        ThreadGroup zero = new ThreadGroup("node zero");
        pages.bindThreadGroup(zero, 0); // a fresh binding of this thread is node 0, whatever the turn
        return resultOnNewThread(zero, work);
    }

    /**
     * A pooled thread whose ThreadLocals were wiped after its last task runs its next task under
     * runOnNode(1, BIND): inside the scope it must stay on node 1, whatever other threads do
     * (a table slot taken from a live thread once sent it to a fresh ThreadLocal binding mid-task).
     */
    @Test
    void shouldKeepRunOnNodesBindingAfterThreadLocalsWereWipedThoughAnotherThreadTakesTheSlot() throws InterruptedException {
        twoNodesWithCaches();
        String seen = onThreadOfGroupBoundToNodeZero(() -> {
            pages.freePages(pages.allocatePages(0), 0); // task 1: its binding is made (node 0)
            wipeThreadLocals();                          // the pool renews its ThreadLocals
            StringBuilder nodes = new StringBuilder();
            pages.runOnNode(1, MemoryPolicy.BIND, () -> { // task 2
                nodes.append(pages.currentNode()).append(nodeOf(pages.allocatePages(0)));
                anotherThreadTakesMySlot();
                nodes.append(pages.currentNode()).append(nodeOf(pages.allocatePages(0)));
            });
            return nodes.toString();
        });
        assertEquals("1111", seen, "currentNode and each allocation's node inside runOnNode(1, BIND), before and after "
                + "another thread took the slot");
    }

    /**
     * The binding a thread sees after runOnNode must be the one it saw before, and stay so when
     * another thread of the same table slot starts.
     */
    @Test
    void shouldGiveBackAfterRunOnNodeTheBindingSeenBeforeItAfterAWipe() throws InterruptedException {
        twoNodesWithCaches();
        String seen = onThreadOfGroupBoundToNodeZero(() -> {
            pages.bindCurrentThread(1, MemoryPolicy.BIND);
            wipeThreadLocals();
            int before = pages.currentNode();
            pages.runOnNode(0, MemoryPolicy.LOCAL_PREFERRED, () -> pages.freePages(pages.allocatePages(0), 0));
            int after = pages.currentNode();
            anotherThreadTakesMySlot();
            int later = pages.currentNode();
            return before + "" + after + later;
        });
        assertEquals(seen.charAt(0), seen.charAt(1));
        assertEquals(seen.charAt(0) + "" + seen.charAt(0) + seen.charAt(0), seen,
                "currentNode before runOnNode, after it, and after another thread took the slot (no bind between)");
    }

    /**
     * Without any bind after the wipe: the node a thread sees must not change because an
     * unrelated thread of the same table slot started.
     */
    @Test
    void shouldNotChangeAThreadsNodeWhenAnotherThreadTakesItsSlotAfterAWipe() throws InterruptedException {
        twoNodesWithCaches();
        String seen = onThreadOfGroupBoundToNodeZero(() -> {
            pages.bindCurrentThread(1, MemoryPolicy.BIND);
            wipeThreadLocals();
            int before = pages.currentNode();
            anotherThreadTakesMySlot();
            return before + "" + pages.currentNode();
        });
        assertEquals(seen.charAt(0), seen.charAt(1), "currentNode before and after another thread took the slot: " + seen);
    }

    /** Virtual threads: unique thread ids, ThreadLocals of their own: each keeps its own binding. */
    @Test
    void shouldKeepEachVirtualThreadsBindingApart() throws InterruptedException {
        twoNodesWithCaches();
        AtomicInteger misplaced = new AtomicInteger();
        AtomicInteger finished = new AtomicInteger(); // a thread that threw counts nothing: it must fail the test too
        List<Thread> threads = new ArrayList<>();
        SplittableRandom random = new SplittableRandom(7);
        for (int i = 0; i < 300; i++) {
            int node = random.nextInt(2);
            threads.add(Thread.ofVirtual().start(() -> {
                pages.bindCurrentThread(node, MemoryPolicy.BIND);
                for (int j = 0; j < 20; j++) {
                    long block = pages.allocatePages(0);
                    long object = pages.allocateAddress(64);
                    long page = pages.allocateAddress(PAGE);
                    Thread.yield(); // change carriers
                    if (nodeOf(block) != node || nodeOf(object) != node || nodeOf(page) != node
                            || pages.currentNode() != node) {
                        misplaced.incrementAndGet();
                    }
                    pages.freePages(block, 0);
                    pages.freeAddress(object);
                    pages.freeAddress(page);
                }
                finished.incrementAndGet();
            }));
        }
        for (Thread thread : threads) {
            thread.join();
        }
        assertEquals(threads.size(), finished.get(), "threads that ran to the end");
        assertEquals(0, misplaced.get());
        InvariantChecker.check(pages);
    }

    // ---------------------------------------------------------------- INTERLEAVE turns under pressure

    /**
     * Each allocation under INTERLEAVE must take one turn, so that a run of allocations spreads
     * over every node also when each of them goes through the slow path (its own nodes' caches and
     * zones empty, another thread's caches holding a block of each node, which the slow path's
     * drain gives back). A turn passed by each failed try (the short way's, the long way's, the
     * slow path's retry) made 3 per allocation, so that with 3 nodes every allocation started on one.
     */
    @Test
    void shouldSpreadOverThreeNodesUnderInterleaveWhenEachAllocationTakesTheSlowPath() throws Exception {
        int[] perNode = interleaveUnderPressure(3, 6);
        assertArrayEquals(new int[] {2, 2, 2}, perNode, "3 nodes: blocks per node " + Arrays.toString(perNode));
    }

    /** The same with two nodes, where 2 turns per allocation put every block on one node. */
    @Test
    void shouldSpreadOverTwoNodesUnderInterleaveWhenEachAllocationTakesTheSlowPath() throws Exception {
        int[] perNode = interleaveUnderPressure(2, 6);
        assertArrayEquals(new int[] {3, 3}, perNode, "2 nodes: blocks per node " + Arrays.toString(perNode));
    }

    private int[] interleaveUnderPressure(int nodes, int rounds) throws Exception {
        // maxOrder 1: slices of 2 frames; cached order 0 and 1; batch 1
        try (PageAllocator p = PageAllocator.builder().capacity((long) nodes * 2 * PAGE).maxOrder(1).nodes(nodes)
                .minFreeBytes(0).cacheIdleTimeout(Duration.ofHours(1)).build()) {
            pages = p;
            ExecutorService filler = Executors.newSingleThreadExecutor();
            try {
                List<ArrayDeque<Long>> held = new ArrayList<>();
                for (int n = 0; n < nodes; n++) {
                    held.add(new ArrayDeque<>());
                }
                filler.submit(() -> {
                    pages.bindCurrentThread(0, MemoryPolicy.LOCAL_PREFERRED);
                    for (int i = 0; i < 2 * nodes; i++) {
                        long block = pages.allocatePages(0);
                        held.get(nodeOf(block)).add(block);
                    }
                }).get();
                int[] perNode = new int[nodes];
                pages.runOnNode(0, MemoryPolicy.INTERLEAVE, () -> {
                    try {
                        for (int round = 0; round < rounds; round++) {
                            filler.submit(() -> { // a block of each node into the filler's caches
                                for (int n = 0; n < nodes; n++) {
                                    pages.freePages(held.get(n).poll(), 0);
                                }
                            }).get();
                            long block = pages.allocatePages(0); // own caches and every zone empty: the slow path drains
                            perNode[nodeOf(block)]++;
                            filler.submit(() -> { // the filler takes the rest back, and this block
                                for (int n = 0; n < nodes - 1; n++) {
                                    long b = pages.allocatePages(0);
                                    held.get(nodeOf(b)).add(b);
                                }
                                held.get(nodeOf(block)).add(block);
                            }).get();
                        }
                    } catch (Exception e) {
                        throw new AssertionError(e);
                    }
                });
                return perNode;
            } finally {
                filler.shutdown();
                pages = null;
            }
        }
    }

    /** The sequence of nodes under INTERLEAVE when nothing fails: one turn per allocation (unchanged). */
    @Test
    void shouldTakeOneTurnPerAllocationUnderInterleave() {
        pages = PageAllocator.builder().capacity(3 * MAX_BLOCK).nodes(3).minFreeBytes(0).build();
        StringBuilder seen = new StringBuilder();
        pages.runOnNode(0, MemoryPolicy.INTERLEAVE, () -> {
            for (int i = 0; i < 6; i++) {
                seen.append(nodeOf(pages.allocatePages(0)));
            }
            for (int i = 0; i < 6; i++) {
                seen.append(nodeOf(pages.allocateAddress(8192)));
            }
        });
        assertEquals("012012012012", seen.toString());
    }

    // ---------------------------------------------------------------- freeCachedBlock with several nodes

    private PageAllocator twoNodes(boolean exactRuns) {
        pages = PageAllocator.builder().capacity(4 * MAX_BLOCK).nodes(2).minFreeBytes(0).exactRuns(exactRuns).build();
        return pages;
    }

    private boolean closed;

    private String state() {
        if (closed) {
            return "closed";
        }
        return pages.buddyinfo() + pages.threadCaches().get(0).cachedFrames() + "/" + pages.threadCaches().get(1).cachedFrames()
                + "/" + pages.slabinfo();
    }

    /** The refusal a bad free gets; it must change nothing. */
    private String refusal(Runnable call) {
        String before = state();
        RuntimeException e = assertThrows(RuntimeException.class, call::run);
        assertEquals(before, state(), "a refused free changed something: " + e);
        return e.getClass().getSimpleName() + ": " + e.getMessage().replaceAll("0x[0-9a-f]+", "ADDR");
    }

    /** Every bad free by address or segment, with two nodes: the refusal each gives, nothing changed. */
    @Test
    void shouldRefuseBadFreesWithSeveralNodesAsTheLongWayDid() throws InterruptedException {
        twoNodes(true);
        List<String> refusals = new ArrayList<>();
        pages.bindCurrentThread(0, MemoryPolicy.BIND);
        long onZero = pages.allocateAddress(PAGE);
        pages.bindCurrentThread(1, MemoryPolicy.BIND);
        long onOne = pages.allocateAddress(2 * PAGE);
        assertEquals(0, nodeOf(onZero));
        assertEquals(1, nodeOf(onOne));
        // another node's block, freed by address by a thread of node 1: goes to node 0's caches
        pages.freeAddress(onZero);
        assertEquals(0, nodeOf(onZero));
        assertEquals(1, pages.threadCaches().get(0).cachedFrames(), "node 0's block in node 0's caches");
        refusals.add(refusal(() -> pages.freeAddress(onZero)));                          // double free, block cached
        refusals.add(refusal(() -> pages.free(pages.region().memory().asSlice(
                onZero - pages.region().base(), PAGE))));                                // double free by segment
        refusals.add(refusal(() -> pages.freeAddress(onOne + PAGE)));                    // inside a block
        refusals.add(refusal(() -> pages.freeAddress(onOne + 16)));                      // not a frame
        refusals.add(refusal(() -> pages.free(pages.region().memory().asSlice(
                onOne - pages.region().base(), 4 * PAGE))));                             // larger than the block
        refusals.add(refusal(() -> pages.freePages(onOne, 0)));                          // wrong order
        long object = pages.allocateAddress(16);                                         // a slab's first object: page start
        assertEquals(0, (object - pages.region().base()) % PAGE, "a fresh slab's first object starts a page");
        refusals.add(refusal(() -> pages.freePages(object, 0)));                         // a slab freed as a block
        pages.freeAddress(object);
        refusals.add(refusal(() -> pages.freeAddress(object)));                          // object double free
        long run = pages.allocateAddress(5 * PAGE);                                      // exact run of 5 frames
        refusals.add(refusal(() -> pages.freePages(run, 3)));
        refusals.add(refusal(() -> pages.freeAddress(run + 4 * PAGE)));                  // inside a run
        pages.freeAddress(run);
        MemorySegment large = pages.allocate(2 * MAX_BLOCK);
        long largeAddress = large.address();
        pages.free(large);
        refusals.add(refusal(() -> pages.freeAddress(largeAddress)));                    // a mapping freed twice
        InvariantChecker.check(pages);
        pages.freeAddress(onOne);
        pages.close();
        closed = true;
        refusals.add(refusal(() -> pages.freeAddress(onOne)));                           // after close
        refusals.add(refusal(() -> pages.freeAddress(onZero)));
        pages = null;
        System.out.println("REFUSALS\n" + String.join("\n", refusals));
    }

    /** The debug mode and zeroing with two nodes keep their checks: the short way is theirs to skip. */
    @Test
    void shouldKeepTheDebugModesAndZeroingsWorkWithSeveralNodes() {
        pages = PageAllocator.builder().capacity(4 * MAX_BLOCK).nodes(2).minFreeBytes(0).debug(true).build();
        long block = pages.allocatePages(0);
        pages.region().memory().set(java.lang.foreign.ValueLayout.JAVA_LONG, block - pages.region().base(), 42L);
        pages.freePages(block, 0);
        IllegalStateException twice = assertThrows(IllegalStateException.class, () -> pages.freePages(block, 0));
        assertTrue(twice.getMessage().contains("double free"), twice.getMessage());
        long address = pages.allocateAddress(PAGE);
        pages.freeAddress(address);
        assertThrows(IllegalStateException.class, () -> pages.freeAddress(address));
        pages.close();
        pages = PageAllocator.builder().capacity(4 * MAX_BLOCK).nodes(2).minFreeBytes(0).zeroed(true).build();
        long dirty = pages.allocatePages(0);
        pages.region().memory().set(java.lang.foreign.ValueLayout.JAVA_LONG, dirty - pages.region().base(), 42L);
        pages.freePages(dirty, 0);
        long again = pages.allocatePages(0);
        assertEquals(dirty, again);
        assertEquals(0L, pages.region().memory().get(java.lang.foreign.ValueLayout.JAVA_LONG, again - pages.region().base()));
        long addr = pages.allocateAddress(PAGE);
        pages.region().memory().set(java.lang.foreign.ValueLayout.JAVA_LONG, addr - pages.region().base(), 42L);
        pages.freeAddress(addr);
        long addr2 = pages.allocateAddress(PAGE);
        assertEquals(0L, pages.region().memory().get(java.lang.foreign.ValueLayout.JAVA_LONG, addr2 - pages.region().base()));
    }

    /** cachedOrders(0) with two nodes: every block from the zones, BIND refused, fallback. */
    @Test
    void shouldServeWithoutCachesWithSeveralNodes() {
        pages = PageAllocator.builder().capacity(4 * MAX_BLOCK).nodes(2).minFreeBytes(0).cachedOrders(0).build();
        pages.bindCurrentThread(0, MemoryPolicy.BIND);
        pages.allocatePages(10);
        pages.allocatePages(10);
        String before = pages.buddyinfo();
        assertThrows(OutOfPagesException.class, () -> pages.allocatePages(0));
        assertThrows(OutOfPagesException.class, () -> pages.allocateAddress(PAGE));
        assertEquals(before, pages.buddyinfo());
        pages.bindCurrentThread(0, MemoryPolicy.LOCAL_PREFERRED);
        long block = pages.allocateAddress(PAGE);
        assertEquals(1, nodeOf(block));
        pages.freeAddress(block);
        InvariantChecker.check(pages);
    }

    /** BIND with the own node's caches empty but another thread's holding its blocks: the slow path drains them. */
    @Test
    void shouldDrainAndServeUnderBindWhenOnlyAnotherThreadsCacheHoldsTheNodesMemory() throws Exception {
        twoNodesWithCaches();
        List<Long> zero = new ArrayList<>();
        Thread holder = Thread.ofPlatform().start(() -> {
            pages.bindCurrentThread(0, MemoryPolicy.BIND);
            try {
                while (true) {
                    zero.add(pages.allocatePages(0));
                }
            } catch (OutOfPagesException full) {
                // node 0 is all taken
            }
            pages.freePages(zero.removeLast(), 0); // into this thread's cache
        });
        holder.join();
        pages.bindCurrentThread(0, MemoryPolicy.BIND);
        long block = pages.allocatePages(0);
        assertEquals(0, nodeOf(block));
        assertThrows(OutOfPagesException.class, () -> pages.allocatePages(0));
        InvariantChecker.check(pages);
    }

    private Object[] table() {
        try {
            Field table = NodeMap.class.getDeclaredField("byThreadId");
            table.setAccessible(true);
            return (Object[]) table.get(nodeMap());
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    /** An unstarted thread (platform or virtual) whose table slot is {@code slot}. */
    private Thread unstartedInSlot(long slot, boolean virtual, Runnable work) {
        int mask = table().length - 1;
        for (int i = 0; i < 100 * (mask + 1); i++) {
            Thread t = virtual ? Thread.ofVirtual().unstarted(work) : Thread.ofPlatform().unstarted(work);
            if ((t.threadId() & mask) == slot) {
                return t;
            }
        }
        throw new AssertionError("no thread of slot " + slot);
    }

    /** What {@code work} returns on a new platform thread of {@code group}; its failure, rethrown here. */
    private <T> T resultOnNewThread(ThreadGroup group, Supplier<T> work) throws InterruptedException {
        AtomicReference<T> result = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread t = Thread.ofPlatform().group(group).start(() -> {
            try {
                result.set(work.get());
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        t.join();
        if (failure.get() != null) {
            throw new AssertionError(failure.get());
        }
        return result.get();
    }

    // ---------------------------------------------------------------- INTERLEAVE turns, dead threads and dropped groups

    /**
     * Under INTERLEAVE every new slab passes the turn, but a magazine refill takes a
     * whole batch, and for every class above 64 bytes a batch is more than one slab: the refill
     * carves 2 or 4 slabs, all on the turn's node, and passes the turn 2 or 4 times, so with two
     * nodes (or four) the turn comes back to the node it started on, and every object comes
     * from one node.
     */
    @Test
    void shouldSpreadSmallObjectsOfEveryClassOverTheNodesUnderInterleave() throws InterruptedException {
        StringBuilder report = new StringBuilder();
        boolean even = true;
        for (int nodes : new int[] {2, 3, 4}) {
            report.append("\n").append(nodes).append(" nodes: ");
            for (long size : new long[] {64, 128, 256, 512, 1024}) {
                pages = PageAllocator.builder().capacity(2L * nodes * MAX_BLOCK).nodes(nodes).minFreeBytes(0).build();
                int n = nodes;
                int[] perNode = resultOnNewThread(Thread.currentThread().getThreadGroup(), () -> {
                    int[] counts = new int[n];
                    List<MemorySegment> rows = new ArrayList<>();
                    pages.runOnNode(0, MemoryPolicy.INTERLEAVE, () -> {
                        for (int i = 0; i < 3072; i++) {
                            MemorySegment row = pages.allocate(size);
                            rows.add(row);
                            counts[nodeOf(row.address())]++;
                        }
                    });
                    rows.forEach(pages::free);
                    return counts;
                });
                report.append(size).append(" B ").append(Arrays.toString(perNode)).append("; ");
                even &= Arrays.stream(perNode).min().getAsInt() >= 3072 / (2 * nodes);
                pages.close();
                pages = null;
            }
        }
        System.out.println("INTERLEAVE objects per node:" + report);
        assertTrue(even, "objects per node under INTERLEAVE, 3072 objects of each size:" + report);
    }

    /**
     * runOnNode "puts back the thread's binding", but not its INTERLEAVE turn:
     * restore() goes through bindCurrentThread, which sets the turn to 0. A thread under
     * INTERLEAVE that calls anything scoped with runOnNode between its allocations (a library
     * that places its own memory) gets every block from its own node.
     */
    @Test
    void shouldKeepTheInterleaveTurnAcrossANestedRunOnNode() throws InterruptedException {
        twoNodesWithCaches();
        int[] perNode = resultOnNewThread(Thread.currentThread().getThreadGroup(), () -> {
            int[] counts = new int[2];
            pages.bindCurrentThread(0, MemoryPolicy.INTERLEAVE);
            for (int i = 0; i < 8; i++) {
                counts[nodeOf(pages.allocatePages(0))]++;
                pages.runOnNode(1, MemoryPolicy.BIND, () -> { }); // e.g. a library's own scoped allocation
            }
            return counts;
        });
        assertArrayEquals(new int[] {4, 4}, perNode, "blocks per node under INTERLEAVE with a runOnNode between them: "
                + Arrays.toString(perNode));
    }

    /**
     * The table holds each binding's Thread, and a dead thread's binding stays in its
     * slot until another thread of the same slot makes its first binding, which may be never. A
     * dead thread holds its context class loader, its Runnable and its group, so an allocator that
     * outlives a redeployed application keeps the application's class loader. The page caches'
     * table, which the javadoc cites, retires dead threads at the reaper; this table never does.
     *
     */
    @Test
    void shouldNotKeepADeadThreadsClassLoaderReachable() throws Exception {
        twoNodesWithCaches();
        WeakReference<ClassLoader> loader = deadThreadWithLoader();
        pages.reapNow(); // the page caches and the magazines retire the dead thread's caches
        for (int i = 0; i < 20 && loader.get() != null; i++) {
            System.gc();
            Thread.sleep(20);
        }
        long deadInTable = Arrays.stream(table()).filter(b -> b != null && !ownerOf(b).isAlive()).count();
        assertNull(loader.get(), "a dead thread's context class loader is still reachable; dead threads in the "
                + "NodeMap table: " + deadInTable);
    }

    private WeakReference<ClassLoader> deadThreadWithLoader() throws InterruptedException {
        ClassLoader loader = new URLClassLoader(new URL[0], null); // an application's loader
        Thread t = Thread.ofPlatform().unstarted(() -> pages.freePages(pages.allocatePages(0), 0));
        t.setContextClassLoader(loader);
        t.start();
        t.join();
        return new WeakReference<>(loader);
    }

    private static Thread ownerOf(Object binding) {
        try {
            for (Field f : binding.getClass().getDeclaredFields()) {
                if (f.getType() == Thread.class) {
                    f.setAccessible(true);
                    return (Thread) f.get(binding);
                }
                if (f.getType() == WeakReference.class) {
                    f.setAccessible(true);
                    Thread t = (Thread) ((WeakReference<?>) f.get(binding)).get();
                    return t != null ? t : Thread.ofPlatform().unstarted(() -> { }); // gone: not alive
                }
            }
            throw new AssertionError("no owner field");
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    /**
     * bindThreadGroup keeps every group it was
     * ever given in a ConcurrentHashMap, strongly, with no way to unbind: a program that makes a
     * group per pool (per tenant, per request batch) and binds it grows the map without bound, and
     * keeps each group, its parent chain and (for a subclass) its class loader.
     */
    @Test
    void shouldNotKeepEveryThreadGroupItWasEverGiven() throws InterruptedException {
        twoNodesWithCaches();
        List<WeakReference<ThreadGroup>> groups = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            ThreadGroup group = new ThreadGroup("pool-" + i);
            pages.bindThreadGroup(group, i & 1);
            groups.add(new WeakReference<>(group));
        }
        long alive = groups.size();
        for (int i = 0; i < 20 && alive > 0; i++) {
            System.gc();
            Thread.sleep(20);
            alive = groups.stream().filter(g -> g.get() != null).count();
        }
        assertEquals(0, alive, "thread groups still reachable after they were dropped, of 1000 bound");
    }


    /** Binding.owner (or whatever identifies the owner) is final: a racily read binding is fully built. */
    @Test
    void theOwnerOfABindingIsFinal() throws NoSuchFieldException {
        for (Field f : NodeMap.Binding.class.getDeclaredFields()) {
            if (f.getType() == Thread.class || f.getName().startsWith("owner") || f.getName().equals("threadId")) {
                assertTrue(Modifier.isFinal(f.getModifiers()), f.getName() + " must be final");
            }
        }
    }

    /**
     * A non-owner (its slot held by a live thread) inside runOnNode(1, BIND): the slot's occupant
     * dies and a third thread takes the slot, in the middle of the scope. The scope's binding holds.
     */
    @Test
    void aNonOwnerKeepsItsScopeWhileTheSlotsOccupantDiesAndAnotherTakesIt() throws Exception {
        twoNodesWithCaches();
        ThreadGroup zero = new ThreadGroup("zero");
        pages.bindThreadGroup(zero, 0);
        CountDownLatch occupantMayDie = new CountDownLatch(1);
        CountDownLatch occupantBound = new CountDownLatch(1);
        Thread occupant = Thread.ofPlatform().group(zero).start(() -> {
            pages.currentNode();
            occupantBound.countDown();
            try {
                occupantMayDie.await();
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        });
        occupantBound.await();
        long slot = occupant.threadId() & (table().length - 1);
        StringBuilder seen = new StringBuilder();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread nonOwner = unstartedInSlot(slot, false, () -> {
            try {
                pages.freePages(pages.allocatePages(0), 0);
                pages.runOnNode(1, MemoryPolicy.BIND, () -> {
                    seen.append(pages.currentNode()).append(nodeOf(pages.allocatePages(0)));
                    occupantMayDie.countDown();
                    try {
                        occupant.join();
                        Thread third = unstartedInSlot(slot, true, pages::currentNode); // a virtual thread installs
                        third.start();
                        third.join();
                    } catch (InterruptedException e) {
                        throw new AssertionError(e);
                    }
                    seen.append(pages.currentNode()).append(nodeOf(pages.allocatePages(0)));
                });
                seen.append(pages.currentNode());
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        nonOwner.start();
        nonOwner.join();
        assertNull(failure.get());
        assertEquals("1111", seen.substring(0, 4), "inside the scope, before and after the slot changed hands");
        assertEquals(5, seen.length());
    }

    /** An owner wiped in the middle of runOnNode keeps its scope (its binding is in its slot). */
    @Test
    void anOwnerWipedInsideRunOnNodeKeepsItsScope() throws InterruptedException {
        twoNodesWithCaches();
        String seen = resultOnNewThread(Thread.currentThread().getThreadGroup(), () -> {
            StringBuilder s = new StringBuilder();
            pages.bindCurrentThread(0, MemoryPolicy.LOCAL_PREFERRED);
            pages.runOnNode(1, MemoryPolicy.BIND, () -> {
                wipeThreadLocals();
                s.append(pages.currentNode()).append(nodeOf(pages.allocatePages(0)));
            });
            s.append(pages.currentNode());
            return s.toString();
        });
        assertEquals("110", seen);
    }

    /** INTERLEAVE over 2, 3 and 5 nodes: every kind of block takes exactly one turn, in one sequence. */
    @Test
    void everyKindOfBlockTakesOneTurnOverTwoThreeAndFiveNodes() {
        for (int nodes : new int[] {2, 3, 5}) {
            pages = PageAllocator.builder().capacity(nodes * 2 * MAX_BLOCK).nodes(nodes).minFreeBytes(0).exactRuns(true).build();
            StringBuilder seen = new StringBuilder();
            StringBuilder expected = new StringBuilder();
            int n = nodes;
            pages.runOnNode(0, MemoryPolicy.INTERLEAVE, () -> {
                for (int i = 0; i < 4 * n; i++) {
                    seen.append(nodeOf(pages.allocatePages(0)));
                    seen.append(nodeOf(pages.allocatePages(1, Lifetime.SHORT_LIVED)));
                    seen.append(nodeOf(pages.allocatePages(5)));                         // uncached order
                    seen.append(nodeOf(pages.allocatePages(0, Lifetime.LONG_LIVED)));
                    seen.append(nodeOf(pages.allocatePages(0, Lifetime.RECLAIMABLE)));
                    seen.append(nodeOf(pages.allocateCritical(0)));
                    seen.append(nodeOf(pages.allocatePagesIfFree(0, Lifetime.SHORT_LIVED)));
                    seen.append(nodeOf(pages.allocateAddress(5 * PAGE)));                // above the size classes: an exact run
                    seen.append(nodeOf(pages.tryAllocatePages(2, Lifetime.SHORT_LIVED)));
                }
            });
            for (int i = 0; i < seen.length(); i++) {
                expected.append(i % n);
            }
            assertEquals(expected.toString(), seen.toString(), nodes + " nodes");
            pages.close();
            pages = null;
        }
    }

    /** The same with five nodes. */
    @Test
    void shouldSpreadOverFiveNodesUnderInterleaveWhenEachAllocationTakesTheSlowPath() throws Exception {
        int[] perNode = interleaveUnderPressure(5, 10);
        assertArrayEquals(new int[] {2, 2, 2, 2, 2}, perNode, "5 nodes: blocks per node " + Arrays.toString(perNode));
    }
}
