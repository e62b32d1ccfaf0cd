package io.pagoda;

import io.pagoda.slab.SizeClasses;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Adversarial tests of the slab layer and the user-facing layer, from a review: odd slices and
 * addresses freed, every alignment, refused calls that must change nothing, running dry and
 * recovering, and races (threads freeing each other's objects while trims, the reaper, arena
 * closes and child limits interleave), in both modes. The bugs the review found are specified in
 * the tests of each feature (ChildAllocatorTest, ArenaTest, DebugModeTest).
 */
class AdversarialSlabTest {

    private static final int PAGE = 4096;

    private PageAllocator pages;
    private final Set<Long> live = new HashSet<>();

    @AfterEach
    void tearDown() {
        if (pages != null) {
            try {
                pages.close();
            } catch (IllegalStateException ignored) {
                // a test left a confined arena open on purpose
            }
        }
    }

    private record State(String buddyinfo, long objectBytesOut, long cachedObjects, long slabBytes, long cachedBytes,
                         long freeBytes, long allocatedBytes) {
    }

    private State state() {
        return new State(pages.buddyinfo(), pages.slabs().objectBytesOut(), pages.slabs().cachedBytes(),
                pages.slabs().slabBytes(), pages.cachedBytes(), pages.freeBytes(), pages.allocatedBytes());
    }

    /** The bad call throws, and changes nothing. */
    private <T extends Throwable> T refused(Class<T> type, Executable call) {
        State before = state();
        T thrown = assertThrows(type, call);
        assertEquals(before, state(), "a refused call changed the state: " + thrown);
        InvariantChecker.checkHolding(pages, live);
        return thrown;
    }

    private MemorySegment hold(MemorySegment segment) {
        assertTrue(live.add(segment.address()), "handed out twice: 0x" + Long.toHexString(segment.address()));
        return segment;
    }

    private void release(MemorySegment segment) {
        pages.free(segment);
        live.remove(segment.address());
    }
    /** The debug mode's leak report leaves out allocations above the largest block. */
    /** A child's free of a segment freed already through the parent drops the live entry but keeps the charge. */
    /**
     * Debug mode: a use after free caught while carving a new slab loses the healthy objects the
     * refill had already taken from the partial list (they stay counted out forever).
     */
    // ---------------------------------------------------------------- bad input changes nothing

    @Test
    void everyBadFreeOfOddSlicesChangesNothing() {
        pages = PageAllocator.builder().capacity(16L << 20).build();
        MemorySegment region = pages.region().memory();
        SizeClasses classes = pages.slabs().classes();
        List<MemorySegment> objects = new ArrayList<>();
        for (int c = 0; c < classes.count(); c++) {
            if (!classes.isSlab(c)) {
                continue;
            }
            long size = classes.size(c);
            MemorySegment a = hold(pages.allocate(size));
            MemorySegment b = hold(pages.allocate(size));
            objects.add(a);
            objects.add(b);
            long offA = a.address() - region.address();
            // interior zero-length slices, slices past the object, slices spanning two objects
            for (long at : new long[] {1, 8, 15, size / 2, size - 1}) {
                if (at > 0 && at < size) {
                    refused(IllegalArgumentException.class, () -> pages.free(region.asSlice(offA + at, 0)));
                    refused(IllegalArgumentException.class, () -> pages.freeAddress(a.address() + at));
                }
            }
            refused(IllegalArgumentException.class, () -> pages.free(region.asSlice(offA, size + 1)));
            refused(IllegalArgumentException.class, () -> pages.free(region.asSlice(offA, 2 * size)));
            refused(IllegalArgumentException.class, () -> pages.free(a.reinterpret(Long.MAX_VALUE / 2)));
            // the slab's tail waste
            long slabBase = offA & -(classes.slabBytes(c));
            long tail = slabBase + classes.objects(c) * size;
            if (tail < slabBase + classes.slabBytes(c)) {
                refused(IllegalArgumentException.class, () -> pages.free(region.asSlice(tail, 0)));
                refused(IllegalArgumentException.class, () -> pages.freeAddress(region.address() + tail));
            }
            // the slab's block through the page interface, and its frames inside it
            int slabOrder = classes.slabOrder(c);
            for (int order = 0; order <= pages.maxOrder(); order++) {
                int o = order;
                refused(IllegalArgumentException.class, () -> pages.freePages(region.address() + slabBase, o));
                for (int frame = 1; frame < 1 << slabOrder; frame++) {
                    long frameAddress = region.address() + slabBase + (long) frame * PAGE;
                    refused(IllegalArgumentException.class, () -> pages.freePages(frameAddress, o));
                }
            }
        }
        // a double free of each, from the magazine
        for (MemorySegment object : objects) {
            release(object);
            refused(IllegalStateException.class, () -> pages.free(object));
            refused(IllegalStateException.class, () -> pages.freeAddress(object.address()));
            refused(IllegalStateException.class, () -> pages.free(object.asSlice(0, 0)));
        }
        pages.trim();
        // and from the slab
        for (MemorySegment object : objects) {
            try {
                pages.free(object);
                fail("double free after trim accepted at 0x" + Long.toHexString(object.address()));
            } catch (IllegalStateException | IllegalArgumentException expected) {
                // ok
            }
        }
        // slices at the region's end
        refused(IllegalArgumentException.class, () -> pages.free(region.asSlice(pages.capacity(), 0)));
        refused(IllegalArgumentException.class, () -> pages.free(region.asSlice(pages.capacity() - 16, 16)));
        refused(IllegalArgumentException.class, () -> pages.free(region.asSlice(pages.capacity() - PAGE, PAGE)));
        refused(IllegalArgumentException.class, () -> pages.freeAddress(region.address() + pages.capacity()));
        refused(IllegalArgumentException.class, () -> pages.freeAddress(region.address() - 16));
        refused(IllegalArgumentException.class, () -> pages.freeAddress(0));
        refused(IllegalArgumentException.class, () -> pages.freeAddress(-1));
        refused(IllegalArgumentException.class, () -> pages.freeAddress(Long.MIN_VALUE));
        // a whole region segment
        refused(RuntimeException.class, () -> pages.free(region));
        InvariantChecker.checkHolding(pages, live);
    }

    @Test
    void badFreesOfBlocksChangeNothing() {
        pages = PageAllocator.builder().capacity(16L << 20).build();
        MemorySegment region = pages.region().memory();
        MemorySegment big = hold(pages.allocate(4L << 20)); // order 10
        MemorySegment small = hold(pages.allocate(5000));   // order 1
        refused(IllegalArgumentException.class, () -> pages.free(big.reinterpret(8L << 20)));
        refused(IllegalArgumentException.class, () -> pages.free(big.reinterpret(Long.MAX_VALUE)));
        refused(IllegalArgumentException.class, () -> pages.free(small.reinterpret(8193)));
        refused(IllegalArgumentException.class, () -> pages.free(big.asSlice(PAGE, 0)));
        refused(IllegalArgumentException.class, () -> pages.free(big.asSlice(PAGE)));
        refused(IllegalArgumentException.class, () -> pages.free(big.asSlice(16)));
        refused(IllegalArgumentException.class, () -> pages.freeAddress(big.address() + PAGE));
        refused(IllegalArgumentException.class, () -> pages.freeAddress(small.address() + PAGE));
        refused(IllegalArgumentException.class, () -> pages.freePages(small.address(), 0));
        refused(IllegalArgumentException.class, () -> pages.freePages(small.address(), 2));
        // a never-allocated frame
        long never = region.address() + pages.capacity() - PAGE;
        refused(RuntimeException.class, () -> pages.freeAddress(never));
        release(small);
        refused(IllegalStateException.class, () -> pages.free(small));
        refused(IllegalStateException.class, () -> pages.freeAddress(small.address()));
        release(big);
        refused(IllegalStateException.class, () -> pages.free(big));
        InvariantChecker.checkHolding(pages, live);
    }

    @Test
    void badAllocationsChangeNothing() {
        pages = PageAllocator.builder().capacity(16L << 20).build();
        hold(pages.allocate(100));
        for (long alignment : new long[] {0, -1, 3, 48, Long.MIN_VALUE, 8L << 20, 1L << 40, 1L << 62}) {
            for (long size : new long[] {-1, 0, 1, 100, 4096, 20000, 5L << 20, Long.MAX_VALUE}) {
                State before = state();
                try {
                    MemorySegment s = pages.allocate(size, alignment);
                    if (alignment > 0 && Long.bitCount(alignment) == 1 && alignment <= (4L << 20) && size >= 0) {
                        hold(s);
                        continue;
                    }
                    fail("allocate(" + size + ", " + alignment + ") accepted: " + s);
                } catch (IllegalArgumentException | OutOfMemoryError refused) {
                    assertEquals(before, state(), "allocate(" + size + ", " + alignment + ") refused but changed the state");
                }
            }
        }
        for (long size : new long[] {-1, Long.MIN_VALUE}) {
            refused(IllegalArgumentException.class, () -> pages.allocate(size));
            refused(IllegalArgumentException.class, () -> pages.allocateAddress(size));
            refused(IllegalArgumentException.class, () -> pages.allocateBuffer((int) Math.max(size, Integer.MIN_VALUE)));
        }
        InvariantChecker.checkHolding(pages, live);
    }

    // ---------------------------------------------------------------- alignment sweep

    @Test
    void everyAlignmentUpToTheLargestBlockIsHonouredAndFreedForSizesUpTo20000() {
        pages = PageAllocator.builder().capacity(64L << 20).build();
        long lastSize = 20000;
        for (int shift = 0; shift <= 23; shift++) {
            long alignment = 1L << shift;
            List<MemorySegment> batch = new ArrayList<>();
            for (long size = 0; size <= lastSize; size += (shift >= 16 ? 97 : 1)) {
                MemorySegment s;
                try {
                    s = pages.allocate(size, alignment);
                } catch (IllegalArgumentException refused) {
                    assertTrue(alignment > pages.blockSize(pages.maxOrder()), "refused " + size + " @ " + alignment);
                    continue;
                }
                assertEquals(0, s.address() % alignment, size + " @ " + alignment + ": 0x" + Long.toHexString(s.address()));
                assertEquals(size, s.byteSize());
                if (size > 0) {
                    s.set(JAVA_BYTE, 0, (byte) 1);
                    s.set(JAVA_BYTE, size - 1, (byte) 2);
                }
                batch.add(s);
                if (batch.size() == (alignment >= 65536 ? 1 : 64)) {
                    for (MemorySegment b : batch) {
                        pages.free(b);
                    }
                    batch.clear();
                }
            }
            for (MemorySegment b : batch) {
                pages.free(b);
            }
        }
        InvariantChecker.checkHolding(pages, live);
        pages.trim();
        assertEquals(pages.capacity(), pages.freeBytes());
        assertEquals(0, pages.slabs().objectBytesOut());
    }

    @Test
    void allocateFromAndAddressApiOnLargePages() {
        pages = PageAllocator.builder().capacity(64L << 20).pageSize(64 * 1024).maxOrder(6).build();
        SplittableRandom random = new SplittableRandom(1);
        List<Long> addresses = new ArrayList<>();
        for (int i = 0; i < 20000; i++) {
            long size = random.nextLong(0, 300_000);
            long a = pages.allocateAddress(size);
            assertTrue(live.add(a));
            addresses.add(a);
            if (addresses.size() > 100 || random.nextInt(2) == 0) {
                long victim = addresses.remove(random.nextInt(addresses.size()));
                pages.freeAddress(victim);
                live.remove(victim);
            }
        }
        InvariantChecker.checkHolding(pages, live);
        for (long a : addresses) {
            pages.freeAddress(a);
        }
        live.clear();
        pages.trim();
        InvariantChecker.checkHolding(pages, live);
        assertEquals(pages.capacity(), pages.freeBytes());
    }

    // ---------------------------------------------------------------- buffers

    @Test
    void zeroAndOddCapacityBuffersRelease() {
        pages = PageAllocator.builder().capacity(16L << 20).build();
        for (int capacity : new int[] {0, 1, 15, 16, 17, 4095, 4096, 4097, 16384, 16385, 4 << 20, (4 << 20) + 1}) {
            ByteBuffer buffer = pages.allocateBuffer(capacity);
            assertEquals(capacity, buffer.capacity());
            buffer.position(capacity / 2);
            pages.release(buffer);
            State before = state();
            assertThrows(IllegalStateException.class, () -> pages.release(buffer));
            assertEquals(before, state());
        }
        pages.trim();
        assertEquals(pages.capacity(), pages.freeBytes());
    }

    // ---------------------------------------------------------------- OOM and recovery

    @Test
    void outOfPagesWithEveryClassThenRecovery() {
        pages = PageAllocator.builder().capacity(2L << 20).maxOrder(6).build();
        SizeClasses classes = pages.slabs().classes();
        for (int round = 0; round < 3; round++) {
            List<MemorySegment> held = new ArrayList<>();
            SplittableRandom random = new SplittableRandom(round);
            int failures = 0;
            while (failures < 200) {
                long size = random.nextInt(3) == 0 ? random.nextLong(0, 300_000) : random.nextLong(0, 16385);
                try {
                    held.add(hold(pages.allocate(size)));
                } catch (OutOfPagesException e) {
                    failures++;
                    InvariantChecker.checkHolding(pages, live);
                }
            }
            for (MemorySegment s : held) {
                release(s);
            }
            InvariantChecker.checkHolding(pages, live);
            pages.trim();
            assertEquals(pages.capacity(), pages.freeBytes(), "round " + round);
            assertEquals(0, pages.slabs().slabBytes());
            // everything serves again
            for (int c = 0; c < classes.count(); c++) {
                release(hold(pages.allocate(classes.size(c))));
            }
            release(hold(pages.allocate(pages.blockSize(pages.maxOrder()))));
        }
    }

    // ---------------------------------------------------------------- concurrency

    private static long stamp(long address) {
        return address * 0x9E3779B97F4A7C15L;
    }

    private static void writeStamp(MemorySegment s) {
        if (s.byteSize() >= 16) {
            s.set(JAVA_LONG_UNALIGNED, 0, stamp(s.address()));
            s.set(JAVA_LONG_UNALIGNED, s.byteSize() - 8, ~stamp(s.address()));
        } else if (s.byteSize() > 0) {
            s.set(JAVA_BYTE, 0, (byte) stamp(s.address()));
        }
    }

    private static void checkStamp(MemorySegment s) {
        if (s.byteSize() >= 16) {
            assertEquals(stamp(s.address()), s.get(JAVA_LONG_UNALIGNED, 0), "stamp at 0x" + Long.toHexString(s.address()));
            assertEquals(~stamp(s.address()), s.get(JAVA_LONG_UNALIGNED, s.byteSize() - 8),
                    "tail stamp at 0x" + Long.toHexString(s.address()));
        } else if (s.byteSize() > 0) {
            assertEquals((byte) stamp(s.address()), s.get(JAVA_BYTE, 0));
        }
    }

    private void raceWorkload(boolean debug, long millis) throws Exception {
        raceWorkload(debug, millis, 24L << 20, 4);
    }

    private void raceWorkload(boolean debug, long millis, long capacity, int cachedOrders) throws Exception {
        pages = PageAllocator.builder().capacity(capacity).cachedOrders(cachedOrders).maxOrder(8).cacheBatch(8).cacheHigh(32)
                .cacheIdleTimeout(Duration.ofMillis(10)).debug(debug).build();
        int workers = 8;
        List<ConcurrentLinkedQueue<MemorySegment>> inboxes = new ArrayList<>();
        for (int i = 0; i < workers; i++) {
            inboxes.add(new ConcurrentLinkedQueue<>());
        }
        Set<Long> liveSet = ConcurrentHashMap.newKeySet();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong ooms = new AtomicLong();
        long deadline = System.nanoTime() + millis * 1_000_000L;
        List<Thread> threads = new ArrayList<>();
        for (int w = 0; w < workers; w++) {
            int slot = w;
            threads.add(Thread.ofPlatform().name("slot-" + w).start(() -> {
                SplittableRandom seeds = new SplittableRandom(slot * 31L + 7);
                while (System.nanoTime() < deadline && failure.get() == null) {
                    long genEnd = Math.min(deadline, System.nanoTime() + 1_000_000L * (5 + seeds.nextInt(60)));
                    SplittableRandom random = seeds.split();
                    Runnable body = () -> {
                        List<MemorySegment> mine = new ArrayList<>();
                        try {
                            while (System.nanoTime() < genEnd && failure.get() == null) {
                                int op = random.nextInt(10);
                                if (op < 5) {
                                    long size = switch (random.nextInt(6)) {
                                        case 0 -> random.nextLong(0, 129);
                                        case 1 -> random.nextLong(129, 2049);
                                        case 2 -> random.nextLong(2049, 16385);
                                        case 3 -> random.nextLong(16385, 1 << 20);
                                        default -> random.nextLong(0, 600);
                                    };
                                    MemorySegment s;
                                    try {
                                        s = random.nextInt(4) == 0
                                                ? pages.allocate(size, 1L << random.nextInt(13))
                                                : pages.allocate(size);
                                    } catch (OutOfPagesException e) {
                                        ooms.incrementAndGet();
                                        // give some back
                                        for (int i = 0; i < mine.size() / 2; i++) {
                                            MemorySegment m = mine.removeLast();
                                            checkStamp(m);
                                            assertTrue(liveSet.remove(m.address()));
                                            pages.free(m);
                                        }
                                        continue;
                                    }
                                    if (!liveSet.add(s.address())) {
                                        throw new AssertionError("handed out twice: 0x" + Long.toHexString(s.address()));
                                    }
                                    writeStamp(s);
                                    mine.add(s);
                                } else if (op < 8 && !mine.isEmpty()) {
                                    MemorySegment m = mine.remove(random.nextInt(mine.size()));
                                    checkStamp(m);
                                    inboxes.get((slot + 1 + random.nextInt(workers - 1)) % workers).add(m);
                                } else {
                                    MemorySegment m;
                                    while ((m = inboxes.get(slot).poll()) != null) {
                                        checkStamp(m);
                                        assertTrue(liveSet.remove(m.address()));
                                        pages.free(m);
                                    }
                                }
                                if (mine.size() > 200) {
                                    MemorySegment m = mine.removeFirst();
                                    checkStamp(m);
                                    assertTrue(liveSet.remove(m.address()));
                                    pages.free(m);
                                }
                            }
                            // die holding whatever magazines hold; hand the rest on
                            for (MemorySegment m : mine) {
                                inboxes.get(slot).add(m);
                            }
                        } catch (Throwable e) {
                            failure.compareAndSet(null, e);
                        }
                    };
                    Thread t = slot % 3 == 2 ? Thread.ofVirtual().start(body) : Thread.ofPlatform().start(body);
                    try {
                        t.join();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }));
        }
        Thread trimmer = Thread.ofPlatform().name("trimmer").start(() -> {
            SplittableRandom random = new SplittableRandom(99);
            while (!stop.get()) {
                try {
                    pages.trim();
                    if (random.nextInt(4) == 0) {
                        pages.reapNow();
                    }
                    Thread.sleep(random.nextInt(3));
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                    return;
                }
            }
        });
        for (Thread t : threads) {
            t.join();
        }
        stop.set(true);
        trimmer.join();
        if (failure.get() != null) {
            throw new AssertionError("failed (ooms " + ooms + ")", failure.get());
        }
        List<Long> stillLive = new ArrayList<>();
        for (ConcurrentLinkedQueue<MemorySegment> inbox : inboxes) {
            for (MemorySegment m : inbox) {
                checkStamp(m);
                stillLive.add(m.address());
            }
        }
        assertEquals(liveSet.size(), stillLive.size(), "every live segment is in an inbox");
        InvariantChecker.checkHolding(pages, stillLive);
        for (ConcurrentLinkedQueue<MemorySegment> inbox : inboxes) {
            for (MemorySegment m : inbox) {
                pages.free(m);
            }
        }
        InvariantChecker.checkHolding(pages, List.of());
        pages.trim();
        InvariantChecker.checkHolding(pages, List.of());
        assertEquals(pages.capacity(), pages.freeBytes(), "all memory back after trim");
        assertEquals(0, pages.slabs().objectBytesOut());
        assertEquals(0, pages.slabs().slabBytes());
        if (debug) {
            assertEquals("", pages.leakReport());
        }
    }

    @Test
    void raceWorkloadRunningDry() throws Exception {
        raceWorkload(false, 3000, 6L << 20, 4);
    }

    @Test
    void raceWorkloadRunningDryDebug() throws Exception {
        raceWorkload(true, 3000, 6L << 20, 4);
    }

    @Test
    void raceWorkloadNoPageCaches() throws Exception {
        raceWorkload(false, 2000, 6L << 20, 0);
    }

    @Test
    void manyThreadsFreeEachOthersObjectsWhileTrimAndReaperRun() throws Exception {
        raceWorkload(false, 4000);
    }

    @Test
    void debugModeNeverReportsAFalseUseAfterFreeUnderTheRandomWorkload() throws Exception {
        raceWorkload(true, 4000);
    }

    @Test
    void sharedArenaClosedWhileOtherThreadsAllocate() throws Exception {
        pages = PageAllocator.builder().capacity(64L << 20).build();
        for (int round = 0; round < 20; round++) {
            Arena arena = pages.newSharedArena();
            CountDownLatch started = new CountDownLatch(4);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int seed = t;
                threads.add(Thread.ofPlatform().start(() -> {
                    SplittableRandom random = new SplittableRandom(seed);
                    started.countDown();
                    try {
                        while (true) {
                            long size = random.nextInt(10) == 0 ? random.nextLong(0, 5L << 20) : random.nextLong(0, 5000);
                            MemorySegment s = arena.allocate(size, 1L << random.nextInt(size > (4L << 20) ? 13 : 14));
                            if (size > 0) {
                                s.set(JAVA_BYTE, size - 1, (byte) 1);
                            }
                        }
                    } catch (IllegalStateException | OutOfPagesException closed) {
                        // the arena closed under us, or ran the allocator dry: expected
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                }));
            }
            started.await();
            Thread.sleep(2);
            arena.close();
            for (Thread t : threads) {
                t.join();
            }
            assertNull(failure.get());
        }
        pages.trim();
        assertEquals(pages.capacity(), pages.freeBytes());
        InvariantChecker.checkHolding(pages, List.of());
    }

    @Test
    void childLimitsHoldUnderRacingThreads() throws Exception {
        pages = PageAllocator.builder().capacity(64L << 20).build();
        ChildAllocator parent = pages.newChild("parent", 1 << 20);
        List<ChildAllocator> kids = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            kids.add(parent.newChild("kid" + i, 400 * 1024));
        }
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            int seed = t;
            threads.add(Thread.ofPlatform().start(() -> {
                SplittableRandom random = new SplittableRandom(seed);
                ChildAllocator kid = kids.get(seed % 4);
                List<MemorySegment> mine = new ArrayList<>();
                try {
                    for (int i = 0; i < 20000; i++) {
                        if (random.nextBoolean() || mine.isEmpty()) {
                            try {
                                mine.add(kid.allocate(random.nextLong(0, 40000)));
                            } catch (LimitExceededException ok) {
                                // fine
                            }
                        } else {
                            kid.free(mine.remove(random.nextInt(mine.size())));
                        }
                        long used = parent.usedBytes();
                        if (used > parent.limitBytes() || kid.usedBytes() > kid.limitBytes()) {
                            throw new AssertionError("over limit: " + used + " / " + kid.usedBytes());
                        }
                    }
                    for (MemorySegment s : mine) {
                        kid.free(s);
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        assertNull(failure.get());
        assertEquals(0, parent.usedBytes());
        for (ChildAllocator kid : kids) {
            assertEquals(0, kid.usedBytes());
            kid.close();
        }
        parent.close();
        pages.trim();
        assertEquals(pages.capacity(), pages.freeBytes());
    }

    @Test
    void aMillionVirtualThreadsWorthOfObjectsComeBack() throws Exception {
        pages = PageAllocator.builder().capacity(64L << 20).cacheIdleTimeout(Duration.ofMillis(10)).build();
        ConcurrentLinkedQueue<MemorySegment> handoff = new ConcurrentLinkedQueue<>();
        try (var executor = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < 100_000; i++) {
                int n = i;
                executor.submit(() -> {
                    MemorySegment s = pages.allocate(n % 3000);
                    writeStamp(s);
                    handoff.add(s);
                    MemorySegment other = handoff.poll();
                    if (other != null) {
                        checkStamp(other);
                        pages.free(other);
                    }
                });
            }
        }
        for (MemorySegment s : handoff) {
            pages.free(s);
        }
        InvariantChecker.checkHolding(pages, List.of());
        pages.trim();
        assertEquals(pages.capacity(), pages.freeBytes());
    }
}
