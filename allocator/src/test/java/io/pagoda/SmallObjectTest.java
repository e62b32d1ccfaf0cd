package io.pagoda;

import io.pagoda.slab.SizeClasses;
import io.pagoda.slab.Slabs;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.Pipe;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Objects of 16 bytes to four pages: slabs behind per-thread magazines, through the one allocate/free call. */
class SmallObjectTest {

    private static final int PAGE = 4096;

    private PageAllocator pages;
    private final Set<Long> live = new HashSet<>();

    private PageAllocator allocator(long capacity) {
        pages = PageAllocator.builder().capacity(capacity).minFreeBytes(0).build();
        return pages;
    }

    @AfterEach
    void tearDown() {
        if (pages != null) {
            pages.close();
        }
    }

    private MemorySegment allocate(long bytes) {
        MemorySegment segment = pages.allocate(bytes);
        assertTrue(live.add(segment.address()), "object at 0x" + Long.toHexString(segment.address()) + " handed out twice");
        return segment;
    }

    private void free(MemorySegment segment) {
        pages.free(segment);
        live.remove(segment.address());
    }

    private void checkInvariants() {
        InvariantChecker.checkHolding(pages, live);
    }

    @Test
    void shouldServeEverySizeClassWithDistinctSixteenByteAlignedObjectsThatHoldTheSizeAskedFor() {
        allocator(64L << 20);
        SizeClasses classes = pages.slabs().classes();
        List<MemorySegment> held = new ArrayList<>();
        for (int c = 0; c < classes.count(); c++) {
            long smallest = c == 0 ? 1 : classes.size(c - 1) + 1;
            for (long bytes : new long[] {smallest, classes.size(c)}) {
                assertEquals(classes.size(c), pages.usableSize(bytes), "usable size of " + bytes);
                MemorySegment segment = allocate(bytes);
                assertEquals(bytes, segment.byteSize(), "the segment has the size asked for");
                assertEquals(0, segment.address() % SizeClasses.QUANTUM, "16-byte aligned");
                segment.fill((byte) c);
                held.add(segment);
            }
        }
        checkInvariants();
        for (MemorySegment segment : held) {
            byte expected = segment.get(JAVA_BYTE, 0);
            for (long i = 0; i < segment.byteSize(); i++) {
                assertEquals(expected, segment.get(JAVA_BYTE, i), "no object overlaps another");
            }
            free(segment);
        }
        checkInvariants();
        pages.trim();
        assertEquals(pages.capacity(), pages.freeBytes(), "trim gives every slab back");
        checkInvariants();
    }

    @Test
    void shouldWasteAtMostOneNinthOfAnObjectAbove128Bytes() {
        allocator(8L << 20);
        for (long bytes = 129; bytes <= 4 * PAGE; bytes++) {
            long usable = pages.usableSize(bytes);
            assertTrue(usable >= bytes && (usable - bytes) * 9 <= usable,
                    bytes + " bytes get " + usable + ": more than a ninth lost");
        }
        for (long bytes = 1; bytes <= 128; bytes++) {
            assertTrue(pages.usableSize(bytes) - bytes < SizeClasses.QUANTUM, "at most 15 bytes lost below 128");
        }
    }

    @Test
    void shouldServeSizesThatAreWholeBlocksAsBlocks() {
        allocator(8L << 20);
        for (int order = 0; order <= 2; order++) {
            MemorySegment block = allocate((long) PAGE << order);
            assertEquals(0, block.address() % ((long) PAGE << order), "aligned to its own size");
            assertEquals(0, pages.slabs().objectSizeAt(block.address() - pages.region().base()), "in no slab");
            free(block);
        }
        checkInvariants();
    }

    @Test
    void shouldReuseTheMostRecentlyFreedObjectFirst() {
        allocator(8L << 20);
        MemorySegment first = allocate(256);
        free(first);
        assertEquals(first.address(), allocate(256).address(), "still warm in the CPU caches");
    }

    @Test
    void shouldGiveEveryFrameBackWhenObjectsFreedOnOtherThreadsAreTrimmed() throws Exception {
        allocator(64L << 20);
        List<MemorySegment> objects = new ArrayList<>();
        for (int i = 0; i < 20_000; i++) {
            objects.add(allocate(16 + (i % 64) * 16));
        }
        ConcurrentLinkedQueue<MemorySegment> toFree = new ConcurrentLinkedQueue<>(objects);
        List<Thread> freers = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            freers.add(Thread.ofPlatform().start(() -> {
                for (MemorySegment segment = toFree.poll(); segment != null; segment = toFree.poll()) {
                    pages.free(segment);
                }
            }));
        }
        for (Thread freer : freers) {
            freer.join();
        }
        live.clear();
        checkInvariants();
        pages.trim();
        checkInvariants();
        assertEquals(pages.capacity(), pages.freeBytes(), "the freers' magazines and every slab came back");
    }

    @Test
    void shouldReportEachSlabClassInTheKernelsSlabinfoFormat() {
        allocator(64L << 20);
        List<MemorySegment> objects = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            objects.add(allocate(256));
        }
        String report = pages.slabinfo();
        assertTrue(report.startsWith("slabinfo - version: 2.1\n# name            <active_objs> <num_objs> <objsize> "
                + "<objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> "
                + "<num_slabs> <sharedavail>\n"), report);
        // name active num objsize objperslab pagesperslab : tunables limit batch shared : slabdata active slabs shared
        String[] line = slabinfoLine(report, 256).split("[ :]+");
        long active = Long.parseLong(line[1]);
        long slabs = Long.parseLong(line[12]);
        assertTrue(active >= 100 && active - 100 <= Long.parseLong(line[7]),
                "the 100 objects held, and at most a magazine's worth more: " + report);
        assertEquals(slabs * 16, Long.parseLong(line[2]), "16 objects of 256 bytes per one-page slab");
        assertEquals(List.of("256", "16", "1", "tunables", "128", "64", "0", "slabdata"), List.of(line).subList(3, 11));
        assertEquals(slabs, Long.parseLong(line[11]), "every slab has an object out");
        objects.forEach(this::free);
        pages.trim();
        assertEquals("pagoda-256             0      0    256   16    1 : tunables  128   64    0 : slabdata      0      0      0",
                slabinfoLine(pages.slabinfo(), 256), "everything back: no object out, no slab");
    }

    private static String slabinfoLine(String report, long objectSize) {
        return report.lines().filter(line -> line.startsWith("pagoda-" + objectSize + " ")).findFirst().orElseThrow();
    }

    @Test
    void shouldGiveBackAnEmptySlabOnlyPastTheTwoItKeeps() {
        allocator(64L << 20);
        NodeSlabs slabs = pages.slabs();
        int sizeClass = SizeClasses.classOf(1024);
        int perSlab = slabs.classes().objects(sizeClass);
        // Allocated and freed on a thread that then dies: its magazine goes back to the slabs, which empty.
        Thread worker = Thread.ofPlatform().start(() -> {
            List<MemorySegment> objects = new ArrayList<>();
            for (int i = 0; i < 10 * perSlab; i++) {
                objects.add(pages.allocate(1024));
            }
            assertTrue(slabs.slabs(sizeClass) >= 10, "ten slabs' worth: " + slabs.slabs(sizeClass));
            objects.forEach(pages::free);
        });
        assertDoesNotThrow(worker::join);
        pages.reapNow();
        assertEquals(0, slabs.objectsOut(sizeClass), "every object back in its slab");
        assertEquals(2, slabs.slabs(sizeClass), "two empty slabs kept, the rest given back");
        assertEquals(2, slabs.emptySlabs(sizeClass));
        long freeBefore = pages.freeBytes();
        MemorySegment again = allocate(1024); // the magazine takes a batch: the kept slabs first
        assertEquals(0, slabs.emptySlabs(sizeClass), "the kept slabs serve again");
        long newSlabs = slabs.slabs(sizeClass) - 2;
        assertEquals(newSlabs * slabs.classes().slabBytes(sizeClass), freeBefore - pages.freeBytes(),
                "only the slabs made beyond the kept two took blocks from the zone");
        free(again);
        checkInvariants();
    }

    @Test
    void shouldReturnTheMagazinesOfADeadThreadWithoutBeingAsked() throws Exception {
        pages = PageAllocator.builder().capacity(8L << 20).cacheIdleTimeout(Duration.ofMillis(40)).build();
        Thread worker = Thread.ofPlatform().start(() -> {
            List<MemorySegment> objects = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                objects.add(pages.allocate(512));
            }
            objects.forEach(pages::free);
        });
        worker.join();
        int sizeClass = SizeClasses.classOf(512);
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (pages.slabs().objectsOut(sizeClass) > 0 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals(0, pages.slabs().objectsOut(sizeClass), "the reaper took the dead thread's magazine back");
        checkInvariants();
    }

    @Test
    void shouldShareABoundedSetOfMagazinesAmongVirtualThreads() throws Exception {
        allocator(256L << 20);
        try (ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> tasks = new ArrayList<>();
            for (int t = 0; t < 4_000; t++) {
                int seed = t;
                tasks.add(executor.submit(() -> {
                    SplittableRandom random = new SplittableRandom(seed);
                    List<MemorySegment> mine = new ArrayList<>();
                    for (int i = 0; i < 10; i++) {
                        MemorySegment segment = pages.allocate(1 + random.nextInt(random.nextInt(10) == 0 ? 4 * PAGE : 512));
                        segment.set(JAVA_BYTE, 0, (byte) seed);
                        mine.add(segment);
                        Thread.yield();
                    }
                    for (MemorySegment segment : mine) {
                        assertEquals((byte) seed, segment.get(JAVA_BYTE, 0));
                        pages.free(segment);
                    }
                    return null;
                }));
            }
            for (Future<?> task : tasks) {
                task.get();
            }
        }
        long stripes = pages.slabs().snapshots().stream().filter(s -> s.name().startsWith("shared-")).count();
        assertTrue(pages.slabs().snapshots().size() <= stripes + 2, "no magazine per virtual thread: "
                + pages.slabs().snapshots().size());
        checkInvariants();
        pages.trim();
        assertEquals(pages.capacity(), pages.freeBytes());
    }

    @Test
    void shouldServeAndFreeAZeroByteRequest() {
        allocator(8L << 20);
        MemorySegment empty = allocate(0);
        assertEquals(0, empty.byteSize());
        free(empty);
        checkInvariants();
    }

    @Test
    void shouldAlignToWhatIsAskedUpToTheLargestBlock() {
        allocator(64L << 20);
        long[][] cases = {{100, 64}, {48, 32}, {100, 4096}, {5000, 4096}, {20_000, 65_536}, {1, 1L << 22}};
        for (long[] request : cases) {
            MemorySegment segment = pages.allocate(request[0], request[1]);
            live.add(segment.address());
            assertEquals(request[0], segment.byteSize());
            assertEquals(0, segment.address() % request[1], request[0] + " bytes aligned to " + request[1]);
        }
        checkInvariants();
        for (long address : List.copyOf(live)) {
            // Found again from the address alone, though the object or block is larger than the size.
            pages.free(pages.region().memory().asSlice(address - pages.region().base(), 1));
            live.remove(address);
        }
        checkInvariants();
    }

    @Test
    void shouldServeTheJdkSegmentAllocatorMethods() {
        allocator(8L << 20);
        MemorySegment ints = pages.allocateFrom(java.lang.foreign.ValueLayout.JAVA_INT, 1, 2, 3);
        assertEquals(12, ints.byteSize());
        assertEquals(3, ints.getAtIndex(java.lang.foreign.ValueLayout.JAVA_INT, 2));
        MemorySegment text = pages.allocateFrom("pagoda");
        assertEquals("pagoda", text.getString(0));
        pages.free(ints);
        pages.free(text);
        checkInvariants();
    }

    @Test
    void shouldMapAllocationsLargerThanTheLargestBlockOnTheirOwn() {
        allocator(8L << 20);
        long bytes = (8L << 20) + 1; // more than the whole region
        MemorySegment large = pages.allocate(bytes);
        assertEquals(bytes, large.byteSize());
        assertEquals(0, large.address() % PAGE);
        large.set(JAVA_LONG, bytes - 9, 42L);
        assertEquals(8L << 20, pages.freeBytes(), "outside the region");
        pages.free(large);
        assertFalse(large.scope().isAlive(), "unmapped: the segment is inaccessible");
        assertThrows(IllegalStateException.class, () -> large.get(JAVA_LONG, 0));
        IllegalStateException twice = assertThrows(IllegalStateException.class, () -> pages.free(large), "freed already");
        assertTrue(twice.getMessage().contains("double free"), twice.getMessage());
        assertThrows(IllegalArgumentException.class, () -> pages.freeAddress(large.address()),
                "by address, an unmapped mapping cannot be told from memory never handed out");
        MemorySegment kept = pages.allocate(bytes);
        pages.close();
        assertFalse(kept.scope().isAlive(), "closing the allocator unmaps the rest");
        pages = null;
    }

    /** usableSize promises whole pages for a mapping; an FFM allocation must hold them too, not only mmap. */
    @Test
    void shouldBackEveryUsableByteOfAMappingWhateverTheBacking() {
        for (PageAllocator.Backing backing : PageAllocator.Backing.values()) {
            try (PageAllocator own = PageAllocator.builder().capacity(8L << 20).backing(backing).build()) {
                long bytes = (8L << 20) + 1;
                long usable = own.usableSize(bytes);
                assertEquals((8L << 20) + PAGE, usable, backing + ": rounded up to a page");
                long address = own.allocateAddress(bytes);
                MemorySegment all = MemorySegment.ofAddress(address).reinterpret(usable);
                all.set(JAVA_LONG, usable - 8, 42L);
                assertEquals(42L, all.get(JAVA_LONG, usable - 8), backing.toString());
                own.freeAddress(address);
            }
        }
    }

    @Test
    void shouldGiveBackMagazinesAndEmptySlabsBeforeABlockAllocationFails() {
        allocator(4L << 20);
        List<MemorySegment> objects = new ArrayList<>();
        try {
            while (true) {
                objects.add(pages.allocate(100));
            }
        } catch (OutOfPagesException full) {
            // every frame is in a slab now
        }
        assertTrue(objects.size() > 30_000, "a full region of 112-byte objects: " + objects.size());
        objects.forEach(pages::free); // into this thread's magazine and back to the slabs
        MemorySegment block = pages.allocate(4L << 20); // the whole region in one block
        assertEquals(4L << 20, block.byteSize());
        pages.free(block);
        InvariantChecker.check(pages, Map.of(), Set.of());
    }

    @Test
    void shouldZeroEveryAllocationWhenAsked() {
        pages = PageAllocator.builder().capacity(8L << 20).zeroed(true).build();
        for (long bytes : new long[] {100, 3000, PAGE, 20_000}) {
            MemorySegment dirty = pages.allocate(bytes);
            dirty.fill((byte) 0xFF);
            pages.free(dirty);
            MemorySegment again = pages.allocate(bytes);
            assertEquals(dirty.address(), again.address(), "the same memory, handed out again");
            assertEquals(-1L, again.mismatch(MemorySegment.ofArray(new byte[(int) bytes])), "zeroed: " + bytes);
            pages.free(again);
        }
        long block = pages.allocatePages(1);
        pages.region().memory().asSlice(block - pages.region().base(), 2 * PAGE).fill((byte) 0xFF);
        pages.freePages(block, 1);
        assertEquals(block, pages.allocatePages(1));
        assertEquals(-1L, pages.region().memory().asSlice(block - pages.region().base(), 2 * PAGE)
                .mismatch(MemorySegment.ofArray(new byte[2 * PAGE])), "blocks by order too");
    }

    @Test
    void shouldAllocateAndFreeByAddressAtEverySize() {
        allocator(16L << 20);
        List<Long> addresses = new ArrayList<>();
        for (long bytes : new long[] {0, 1, 100, 3000, PAGE, 5000, 20_000, 4L << 20, (4L << 20) + 1}) {
            long address = pages.allocateAddress(bytes);
            if (bytes > 0) {
                MemorySegment.ofAddress(address).reinterpret(bytes).set(JAVA_BYTE, bytes - 1, (byte) 1);
            }
            addresses.add(address);
            live.add(address);
        }
        checkInvariants();
        for (long address : addresses) {
            pages.freeAddress(address);
            live.remove(address);
        }
        checkInvariants();
        pages.trim();
        assertEquals(pages.capacity(), pages.freeBytes());
    }

    @Test
    void shouldGiveTheRegionAsTheMemoryOfEveryAddressInIt() {
        allocator(16L << 20);
        long object = pages.allocateAddress(100);
        long block = pages.allocateAddress(8 * PAGE);
        MemorySegment memory = pages.memoryOf(object);
        assertSame(memory, pages.memoryOf(block), "one segment for the whole region, made once");
        memory.set(JAVA_LONG, object - memory.address(), 42L);
        assertEquals(42L, MemorySegment.ofAddress(object).reinterpret(8).get(JAVA_LONG, 0), "the object's own bytes");
        pages.freeAddress(object);
        pages.freeAddress(block);
    }

    @Test
    void shouldGiveALargeAllocationItsOwnMappingAsItsMemory() {
        allocator(16L << 20);
        long bytes = (8L << 20) + 1;
        long address = pages.allocateAddress(bytes);
        MemorySegment memory = pages.memoryOf(address);
        assertEquals(address, memory.address());
        assertEquals(pages.usableSize(bytes), memory.byteSize(), "every page of the mapping");
        memory.set(JAVA_LONG, memory.byteSize() - 8, 42L);
        pages.freeAddress(address);
        assertThrows(IllegalStateException.class, () -> memory.get(JAVA_LONG, 0), "the mapping is gone, and says so");
    }

    @Test
    void shouldRefuseAccessThroughTheRegionsMemoryOnceClosed() {
        allocator(16L << 20);
        long address = pages.allocateAddress(100);
        MemorySegment memory = pages.memoryOf(address);
        pages.close();
        assertThrows(IllegalStateException.class, () -> memory.get(JAVA_LONG, address - memory.address()),
                "an exception, where the bare address would crash the JVM");
    }

    @Test
    void shouldUnmapALargeAllocationOnTheCloseAfterOneThatFoundItInUseByAnIoOperation() throws Throwable {
        allocator(16L << 20);
        MemorySegment memory = pages.memoryOf(pages.allocateAddress(8L << 20));
        whileAnIoOperationHolds(memory, () -> assertThrows(IllegalStateException.class, pages::close));
        pages.close();
        assertThrows(IllegalStateException.class, () -> memory.get(JAVA_LONG, 0), "unmapped once the read let go of it");
    }

    @Test
    void shouldKeepALargeAllocationThatAnIoOperationHoldsWhenItsFreeIsRefused() throws Throwable {
        allocator(16L << 20);
        long large = pages.allocateAddress(8L << 20);
        MemorySegment memory = pages.memoryOf(large);
        whileAnIoOperationHolds(memory, () -> {
            refuses(IllegalStateException.class, "stays allocated", () -> pages.freeAddress(large));
            assertSame(memory, pages.memoryOf(large), "still allocated");
        });
        pages.freeAddress(large);
        assertThrows(IllegalStateException.class, () -> memory.get(JAVA_LONG, 0), "unmapped once the read let go of it");
    }

    @Test
    void shouldReturnFromACloseThatFindsTwoLargeAllocationsOfOneHashBinInUseByIoOperations() throws Throwable {
        allocator(16L << 20);
        long[] pair = twoMappingsInOneBin();
        MemorySegment first = pages.memoryOf(pair[0]);
        MemorySegment second = pages.memoryOf(pair[1]);
        whileAnIoOperationHolds(first, () -> whileAnIoOperationHolds(second, () -> {
            Thread closer = Thread.ofPlatform().daemon().start(() -> assertThrows(IllegalStateException.class, pages::close));
            closer.join(Duration.ofSeconds(10));
            assertFalse(closer.isAlive(), "close() must refuse, not spin over the mappings it puts back");
        }));
        pages.close();
        assertThrows(IllegalStateException.class, () -> first.get(JAVA_LONG, 0), "unmapped once the reads let go");
        assertThrows(IllegalStateException.class, () -> second.get(JAVA_LONG, 0), "unmapped once the reads let go");
    }

    /**
     * Two large allocations whose addresses fall in one bin of the mappings' ConcurrentHashMap
     * (16 bins while it holds at most 12): the others are freed.
     */
    private long[] twoMappingsInOneBin() {
        long[] byBin = new long[16];
        List<Long> others = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            long address = pages.allocateAddress(8L << 20);
            int hash = Long.hashCode(address);
            int bin = (hash ^ (hash >>> 16)) & 15; // ConcurrentHashMap.spread, then the bin
            if (byBin[bin] != 0) {
                others.remove(byBin[bin]);
                others.forEach(pages::freeAddress);
                return new long[] {byBin[bin], address};
            }
            byBin[bin] = address;
            others.add(address);
        }
        throw new AssertionError("no two of 12 mappings share a bin of 16");
    }

    /**
     * Runs {@code whileHeld} while a thread is blocked in a read from a pipe into the memory
     * (inside the native read, the JDK holds the memory's session, and refuses to unmap it), then
     * lets the read end.
     */
    static void whileAnIoOperationHolds(MemorySegment memory, Executable whileHeld) throws Throwable {
        Pipe pipe = Pipe.open();
        try (Pipe.SourceChannel source = pipe.source(); Pipe.SinkChannel sink = pipe.sink()) {
            Thread reader = Thread.ofPlatform().start(() -> {
                try {
                    source.read(memory.asSlice(0, 8).asByteBuffer());
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            while (reader.isAlive()
                    && Arrays.stream(reader.getStackTrace()).noneMatch(f -> f.isNativeMethod() && f.getMethodName().startsWith("read"))) {
                Thread.onSpinWait();
            }
            try {
                whileHeld.execute();
            } finally {
                sink.write(ByteBuffer.wrap(new byte[8]));
                reader.join();
            }
        }
    }

    @Test
    void shouldRefuseTheMemoryOfAnAddressItDidNotHandOut() {
        allocator(16L << 20);
        refuses(IllegalArgumentException.class, "neither in this allocator's region", () -> pages.memoryOf(16));
        long large = pages.allocateAddress(8L << 20);
        refuses(IllegalArgumentException.class, "nor the start of one of its mappings", () -> pages.memoryOf(large + PAGE));
        pages.freeAddress(large);
        refuses(IllegalArgumentException.class, "still allocated", () -> pages.memoryOf(large));
    }

    @Test
    void shouldRefuseBadFreesByAddress() {
        allocator(8L << 20);
        long object = pages.allocateAddress(100);
        live.add(object);
        long block = pages.allocateAddress(8 * PAGE);
        live.add(block);
        refuses(IllegalArgumentException.class, "not the start of an object", () -> pages.freeAddress(object + 16));
        refuses(IllegalArgumentException.class, "does not start at an object or a block", () -> pages.freeAddress(block + 16));
        refuses(IllegalArgumentException.class, "not allocated by this allocator", () -> pages.freeAddress(16));
        pages.freeAddress(block);
        live.remove(block);
        refuses(IllegalStateException.class, "double free", () -> pages.freeAddress(block));
        pages.freeAddress(object);
        live.remove(object);
        refuses(IllegalStateException.class, "double free", () -> pages.freeAddress(object));
    }

    // Bad frees: each is refused with a clear message, and changes nothing.

    @Test
    void shouldRefuseAnInteriorPointer() {
        allocator(8L << 20);
        MemorySegment object = allocate(100);
        refuses(IllegalArgumentException.class, "not the start of an object", () -> pages.free(object.asSlice(16)));
    }

    @Test
    void shouldRefuseAnAddressInTheWasteAtASlabsEnd() {
        allocator(8L << 20);
        MemorySegment object = allocate(3000); // 3072-byte objects: one per 4 KiB frame, 1 KiB over
        long slabStart = object.address() - pages.region().base() & -(long) PAGE << pages.slabs().classes()
                .slabOrder(SizeClasses.classOf(3000));
        long pastLast = slabStart + pages.slabs().classes().objects(SizeClasses.classOf(3000)) * 3072L;
        MemorySegment waste = pages.region().memory().asSlice(pastLast, 16);
        refuses(IllegalArgumentException.class, "not the start of an object", () -> pages.free(waste));
    }

    @Test
    void shouldRefuseADoubleFreeWhileTheObjectIsInAMagazine() {
        allocator(8L << 20);
        MemorySegment object = allocate(100);
        allocate(100);
        free(object);
        refuses(IllegalStateException.class, "double free", () -> pages.free(object));
    }

    @Test
    void shouldRefuseADoubleFreeAfterTheObjectWentBackToItsSlab() {
        allocator(8L << 20);
        MemorySegment object = allocate(100);
        allocate(100); // keeps the slab from emptying
        free(object);
        pages.slabs().shrink(); // the magazine back to the slab
        refuses(IllegalStateException.class, "double free", () -> pages.free(object));
    }

    @Test
    void shouldRefuseAnObjectNeverHandedOut() {
        allocator(8L << 20);
        MemorySegment object = allocate(100);
        // The next object of the same slab: carved, free, never handed out.
        MemorySegment next = pages.region().memory().asSlice(object.address() - pages.region().base() + 112, 100);
        refuses(IllegalStateException.class, "double free", () -> pages.free(next));
    }

    @Test
    void shouldRefuseASizeLargerThanTheObject() {
        allocator(8L << 20);
        MemorySegment object = allocate(100);
        MemorySegment grown = pages.region().memory().asSlice(object.address() - pages.region().base(), 113);
        refuses(IllegalArgumentException.class, "holds 112 bytes", () -> pages.free(grown));
    }

    @Test
    void shouldRefuseToFreeASlabsBlockThroughThePageInterface() {
        allocator(8L << 20);
        MemorySegment object = allocate(2048);
        long slab = object.address() & -(long) PAGE;
        int order = pages.slabs().classes().slabOrder(SizeClasses.classOf(2048));
        long head = slab - (slab - pages.region().base()) % ((long) PAGE << order);
        refuses(IllegalArgumentException.class, "is a slab of small objects", () -> pages.freePages(head, order));
    }

    @Test
    void shouldRefuseAFreeAfterClose() {
        allocator(8L << 20);
        MemorySegment object = allocate(100);
        pages.close();
        IllegalStateException closed = assertThrows(IllegalStateException.class, () -> pages.free(object));
        assertTrue(closed.getMessage().contains("closed"));
        pages = null;
    }

    private void refuses(Class<? extends Throwable> type, String message, Executable call) {
        checkInvariants();
        String before = pages.buddyinfo() + pages.slabs().objectBytesOut() + "/" + pages.slabs().cachedBytes()
                + "/" + pages.slabs().slabBytes();
        Throwable thrown = assertThrows(type, call);
        assertTrue(thrown.getMessage().contains(message), "message: " + thrown.getMessage());
        assertEquals(before, pages.buddyinfo() + pages.slabs().objectBytesOut() + "/" + pages.slabs().cachedBytes()
                + "/" + pages.slabs().slabBytes(), "nothing changed");
        checkInvariants();
    }

    private static void assertDoesNotThrow(Executable call) {
        org.junit.jupiter.api.Assertions.assertDoesNotThrow(call);
    }
}
