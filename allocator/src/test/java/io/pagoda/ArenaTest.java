package io.pagoda;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Arenas over the allocator: bump allocation from blocks, everything freed and revoked at close. */
class ArenaTest {

    private PageAllocator pages;

    @BeforeEach
    void setUp() {
        pages = PageAllocator.builder().capacity(256L << 20).build();
    }

    @AfterEach
    void tearDown() {
        pages.close();
    }

    @Test
    void shouldCloseWhenAConfinedArenasOwnerDiedWithItOpen() throws InterruptedException {
        Thread owner = Thread.ofPlatform().start(() -> pages.newConfinedArena().allocate(1024)); // never closed
        owner.join();
        long free = pages.freeBytes();
        pages.close();
        assertThrows(IllegalStateException.class, pages::freeBytes, "closed, though the arena never was");
        assertTrue(free < pages.capacity(), "the dead owner's block was still out before the close");
    }

    @Test
    void shouldGiveBackTheBlocksOfAnArenaWhoseOwnerDiedWithItOpenAtTheNextTrim() throws InterruptedException {
        Thread owner = Thread.ofPlatform().start(() -> pages.newConfinedArena().allocate(1024)); // never closed
        owner.join();
        assertTrue(pages.freeBytes() < pages.capacity(), "the dead owner's block is out");
        pages.trim();
        assertEquals(pages.capacity(), pages.freeBytes(), "its block went back");
        assertEquals(0, pages.openArenaCount());
    }

    @Test
    void shouldServeAnAllocationFromTheBlocksOfArenasWhoseOwnersDied() throws InterruptedException {
        try (PageAllocator small = PageAllocator.builder().capacity(16L << 20).minFreeBytes(0).build()) {
            Thread owner = Thread.ofPlatform().start(() -> {
                Arena arena = small.newConfinedArena();
                for (int i = 0; i < 4; i++) {
                    arena.allocate(3L << 20); // a block of its own each: all 16 MiB
                }
            });
            owner.join();
            assertEquals(0, small.freeBytes(), "the dead owner holds everything");
            small.free(small.allocate(4L << 20)); // the slow path frees the orphaned arena's blocks
            assertEquals(0, small.openArenaCount());
        }
    }

    @Test
    void shouldNotKeepTheArenasOfThreadsThatDiedWithThemOpenWithoutBound() throws InterruptedException {
        for (int i = 0; i < 1_000; i++) {
            Thread owner = Thread.ofPlatform().start(() -> pages.newConfinedArena().allocate(16));
            owner.join();
        }
        assertTrue(pages.openArenaCount() <= 128, "open arenas: " + pages.openArenaCount());
        assertTrue(pages.freeBytes() >= pages.capacity() - (128L << 16), "their blocks went back as they were swept");
    }

    @Test
    void shouldSweepTheArenasOfDeadThreadsSoonAgainOnceAPeakOfOpenArenasHasPassed() throws InterruptedException {
        List<Arena> peak = new ArrayList<>();
        for (int i = 0; i < 1_000; i++) {
            peak.add(pages.newConfinedArena());
        }
        peak.forEach(Arena::close);
        for (int i = 0; i < 300; i++) {
            Thread owner = Thread.ofPlatform().start(() -> pages.newConfinedArena().allocate(16));
            owner.join();
        }
        assertTrue(pages.openArenaCount() <= 128, "open arenas, after a peak of 1000 had closed: " + pages.openArenaCount());
    }

    @Test
    void shouldRefuseAFreeByPageOrAddressOfABlockAnArenaTook() {
        try (Arena arena = pages.newSharedArena()) {
            MemorySegment segment = arena.allocate(100);
            long block = segment.address(); // the first segment starts the arena's first block
            long free = pages.freeBytes();
            IllegalArgumentException byAddress = assertThrows(IllegalArgumentException.class, () -> pages.freeAddress(block));
            assertTrue(byAddress.getMessage().contains("belongs to an arena"), byAddress.getMessage());
            IllegalArgumentException byPage = assertThrows(IllegalArgumentException.class,
                    () -> pages.freePages(block, pages.orderForSize(64 << 10)));
            assertTrue(byPage.getMessage().contains("belongs to an arena"), byPage.getMessage());
            assertEquals(free, pages.freeBytes(), "nothing freed");
            segment.set(JAVA_LONG, 0, 42L);
            assertEquals(42L, segment.get(JAVA_LONG, 0), "the arena's segment still holds its block");
        }
        pages.trim();
        assertEquals(pages.capacity(), pages.freeBytes(), "the arena's close gave it back");
        InvariantChecker.check(pages, java.util.Map.of(), java.util.Set.of());
    }

    @Test
    void shouldRefuseAFreeByAddressOfAMappingAnArenaTook() {
        MemorySegment large;
        try (Arena arena = pages.newSharedArena()) {
            large = arena.allocate(8L << 20); // above the largest block: a mapping of its own
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> pages.freeAddress(large.address()));
            assertTrue(refused.getMessage().contains("belongs to an arena"), refused.getMessage());
            large.set(JAVA_LONG, large.byteSize() - 8, 42L); // still mapped: this would crash the JVM if it were not
            assertEquals(42L, large.get(JAVA_LONG, large.byteSize() - 8));
        }
        assertThrows(IllegalStateException.class, () -> large.get(JAVA_LONG, 0), "the arena's close unmapped it");
    }

    /** As SLUB falls back to its minimum order: with no block of the arena's order free, a smaller one serves. */
    @Test
    void shouldServeASmallRequestFromASmallerBlockWhenMemoryIsFragmented() {
        pages.close();
        pages = PageAllocator.builder().capacity(16L << 20).cachedOrders(0).minFreeBytes(0).build();
        List<Long> held = new ArrayList<>();
        for (long frames = pages.freeBytes() / pages.pageSize(); frames > 0; frames--) {
            held.add(pages.allocatePages(0));
        }
        for (int i = 0; i < held.size(); i += 2) {
            pages.freePages(held.get(i), 0); // half the memory free, in single frames only
        }
        try (Arena arena = pages.newConfinedArena()) {
            MemorySegment small = arena.allocate(16);
            small.set(java.lang.foreign.ValueLayout.JAVA_LONG, 8, 42L);
            assertEquals((8L << 20) - pages.pageSize(), pages.freeBytes(), "one frame taken, the arena's block");
        }
        assertEquals(8L << 20, pages.freeBytes(), "the arena's blocks are back");
        for (int i = 1; i < held.size(); i += 2) {
            pages.freePages(held.get(i), 0);
        }
        assertEquals(pages.capacity(), pages.freeBytes());
        InvariantChecker.check(pages, java.util.Map.of(), java.util.Set.of());
    }

    @Test
    void shouldHandOutAlignedDisjointSegmentsAndGiveEveryBlockBackAtClose() {
        List<MemorySegment> segments = new ArrayList<>();
        try (Arena arena = pages.newConfinedArena()) {
            for (int i = 0; i < 100_000; i++) {
                long alignment = 1L << (i % 7);
                MemorySegment segment = arena.allocate(1 + i % 200, alignment);
                assertEquals(0, segment.address() % alignment);
                segment.fill((byte) i);
                segments.add(segment);
            }
            for (int i = 0; i < segments.size(); i++) {
                MemorySegment segment = segments.get(i);
                assertEquals((byte) i, segment.get(java.lang.foreign.ValueLayout.JAVA_BYTE, segment.byteSize() - 1),
                        "no segment overlaps another");
            }
            assertTrue(pages.freeBytes() < pages.capacity());
        }
        pages.trim();
        assertEquals(pages.capacity(), pages.freeBytes(), "every block back after close");
        InvariantChecker.check(pages, java.util.Map.of(), java.util.Set.of());
    }

    @Test
    void shouldMakeEverySegmentInaccessibleAfterClose() {
        Arena arena = pages.newConfinedArena();
        MemorySegment segment = arena.allocate(JAVA_LONG);
        segment.set(JAVA_LONG, 0, 1L);
        arena.close();
        assertFalse(segment.scope().isAlive());
        assertThrows(IllegalStateException.class, () -> segment.get(JAVA_LONG, 0), "the JDK's own scope check");
        assertThrows(IllegalStateException.class, () -> arena.allocate(8), "no allocation after close");
        assertThrows(IllegalStateException.class, arena::close, "closed once");
    }

    @Test
    void shouldCloseAndGiveBackItsBlocksWhenACleanupActionThrows() {
        Arena arena = pages.newConfinedArena();
        arena.allocate(1000).reinterpret(1000, arena, segment -> {
            throw new IllegalArgumentException("cleanup failed");
        });
        arena.allocate(1L << 20); // a block of its own, and a mapping above the largest block
        arena.allocate(pages.blockSize(pages.maxOrder()) + 1);
        RuntimeException thrown = assertThrows(RuntimeException.class, arena::close);
        assertEquals("cleanup failed", thrown.getMessage(), "the cleanup's exception, as Arena.close specifies");
        assertFalse(arena.scope().isAlive());
        pages.trim();
        assertEquals(pages.capacity(), pages.freeBytes(), "every block back all the same");
        IllegalStateException closed = assertThrows(IllegalStateException.class, () -> arena.allocate(1 << 20));
        assertTrue(closed.getMessage().contains("closed"), closed.getMessage());
        assertEquals(pages.capacity(), pages.freeBytes(), "the refused allocation took nothing");
    }

    @Test
    void shouldCloseTheAllocatorWhenASharedArenasCleanupActionThrowsThere() {
        Arena arena = pages.newSharedArena();
        arena.allocate(1000).reinterpret(1000, arena, segment -> {
            throw new IllegalArgumentException("cleanup failed");
        });
        RuntimeException thrown = assertThrows(RuntimeException.class, pages::close);
        assertEquals("cleanup failed", thrown.getMessage());
        assertFalse(arena.scope().isAlive());
        assertThrows(IllegalStateException.class, pages::freeBytes, "the allocator is closed");
        pages.close(); // and stays closed: a second close does nothing
    }

    @Test
    void shouldConfineAConfinedArenaToItsOwner() throws Exception {
        Arena arena = pages.newConfinedArena();
        MemorySegment segment = arena.allocate(64);
        AtomicReference<Throwable> allocate = new AtomicReference<>();
        AtomicReference<Throwable> access = new AtomicReference<>();
        AtomicReference<Throwable> close = new AtomicReference<>();
        Thread other = Thread.ofPlatform().start(() -> {
            allocate.set(catchThrowable(() -> arena.allocate(8)));
            access.set(catchThrowable(() -> segment.get(JAVA_LONG, 0)));
            close.set(catchThrowable(arena::close));
        });
        other.join();
        assertInstanceOf(WrongThreadException.class, allocate.get());
        assertInstanceOf(WrongThreadException.class, access.get());
        assertInstanceOf(WrongThreadException.class, close.get());
        arena.close();
    }

    @Test
    void shouldServeManyThreadsFromASharedArena() throws Exception {
        Arena arena = pages.newSharedArena();
        List<Thread> threads = new ArrayList<>();
        List<MemorySegment> all = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int t = 0; t < 4; t++) {
            long stamp = t;
            threads.add(Thread.ofPlatform().start(() -> {
                for (int i = 0; i < 20_000; i++) {
                    MemorySegment segment = arena.allocate(JAVA_LONG, 2);
                    segment.setAtIndex(JAVA_LONG, 0, stamp);
                    segment.setAtIndex(JAVA_LONG, 1, i);
                    all.add(segment);
                }
            }));
        }
        for (Thread thread : threads) {
            thread.join();
        }
        java.util.Set<Long> addresses = new java.util.HashSet<>();
        for (MemorySegment segment : all) {
            assertTrue(addresses.add(segment.address()), "each segment handed out once");
        }
        arena.close();
        pages.trim();
        assertEquals(pages.capacity(), pages.freeBytes());
    }

    @Test
    void shouldRefuseAllocationsRacingACloseWithoutLosingABlock() throws Exception {
        for (int round = 0; round < 20; round++) {
            Arena arena = pages.newSharedArena();
            CountDownLatch started = new CountDownLatch(2);
            AtomicInteger refused = new AtomicInteger();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                threads.add(Thread.ofPlatform().start(() -> {
                    started.countDown();
                    try {
                        while (true) {
                            arena.allocate(1 + (int) (Math.random() * 64));
                        }
                    } catch (IllegalStateException closed) {
                        assertTrue(closed.getMessage().contains("closed"), closed.getMessage());
                        refused.incrementAndGet();
                    }
                }));
            }
            started.await();
            Thread.sleep(2);
            arena.close();
            for (Thread thread : threads) {
                thread.join();
            }
            assertEquals(2, refused.get(), "each allocating thread got a clear error");
            pages.trim();
            assertEquals(pages.capacity(), pages.freeBytes(), "nothing leaked in round " + round);
        }
    }

    @Test
    void shouldServeAllocationsLargerThanTheLargestBlock() {
        try (Arena arena = pages.newConfinedArena()) {
            MemorySegment large = arena.allocate((8L << 20) + 1);
            large.set(JAVA_LONG, large.byteSize() - 9, 7L);
            MemorySegment aligned = arena.allocate(100, 1 << 20);
            assertEquals(0, aligned.address() % (1 << 20));
        }
        pages.trim();
        assertEquals(pages.capacity(), pages.freeBytes());
    }

    @Test
    void shouldRefuseASizeThatWouldOverflowTheBumpPointer() {
        try (Arena arena = pages.newConfinedArena()) {
            arena.allocate(16);
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                    () -> arena.allocate(Long.MAX_VALUE - 64, 1));
            assertTrue(refused.getMessage().contains("address space"), refused.getMessage());
            MemorySegment next = arena.allocate(16);
            assertEquals(16, next.byteSize(), "the arena serves on as before");
        }
    }

    @Test
    void shouldRefuseAnAlignmentLargerThanTheLargestBlockNamingTheAlignment() {
        try (Arena arena = pages.newConfinedArena()) {
            arena.allocate(16);
            String buddyinfo = pages.buddyinfo();
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> arena.allocate(8, 8L << 20));
            assertTrue(refused.getMessage().contains("byteAlignment 8388608 is larger than the largest block, 4194304 bytes"),
                    refused.getMessage());
            assertEquals(buddyinfo, pages.buddyinfo(), "nothing taken");
            assertEquals(16, arena.allocate(16).byteSize(), "the arena serves on as before");
        }
    }

    @Test
    void shouldCloseSharedArenasWithTheAllocatorAndRefuseWhileAConfinedOneIsOpen() {
        Arena shared = pages.newSharedArena();
        MemorySegment segment = shared.allocate(64);
        Arena confined = pages.newConfinedArena();
        IllegalStateException refused = assertThrows(IllegalStateException.class, pages::close);
        assertTrue(refused.getMessage().contains("confined arenas are still open"), refused.getMessage());
        assertFalse(segment.scope().isAlive(), "the shared arena was closed");
        pages.trim();
        assertEquals(pages.capacity(), pages.freeBytes(), "and its blocks given back");
        confined.close();
    }

    private static Throwable catchThrowable(org.junit.jupiter.api.function.Executable call) {
        try {
            call.execute();
            return null;
        } catch (Throwable t) {
            return t;
        }
    }
}
