package io.pagoda;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Named child allocators with byte limits, accounted up through their parents. */
class ChildAllocatorTest {

    private PageAllocator pages;

    @BeforeEach
    void setUp() {
        pages = PageAllocator.builder().capacity(64L << 20).build();
    }

    @AfterEach
    void tearDown() {
        pages.close();
    }

    @Test
    void shouldChargeTheUsableSizeToTheChildAndEveryParent() {
        try (ChildAllocator tenant = pages.newChild("tenant", 1 << 20);
             ChildAllocator connection = tenant.newChild("connection", 64 * 1024)) {
            MemorySegment small = connection.allocate(100);
            MemorySegment block = connection.allocate(5000);
            assertEquals(112 + 5120, connection.usedBytes(), "the size class of each, not the size asked");
            assertEquals(connection.usedBytes(), tenant.usedBytes());
            connection.free(small);
            connection.free(block);
            assertEquals(0, connection.usedBytes());
            assertEquals(0, tenant.usedBytes());
        }
    }

    @Test
    void shouldRefuseARequestOverALimitNamingTheWholeChainAndChargeNothing() {
        try (ChildAllocator tenant = pages.newChild("tenant-a", 40 * 1024);
             ChildAllocator first = tenant.newChild("conn-1", 32 * 1024);
             ChildAllocator second = tenant.newChild("conn-2", 32 * 1024)) {
            MemorySegment held = first.allocate(32 * 1024);
            String buddyinfo = pages.buddyinfo();
            LimitExceededException overParent = assertThrows(LimitExceededException.class, () -> second.allocate(16 * 1024));
            assertEquals("tenant-a", overParent.allocator(), "the parent is what is over");
            assertTrue(overParent.getMessage().contains("'tenant-a'") && overParent.getMessage().contains("limit is 40960")
                    && overParent.getMessage().contains("32768 are in use")
                    && overParent.getMessage().contains("'conn-2' 0/32768 <- 'tenant-a' 32768/40960 <- root"),
                    overParent.getMessage());
            LimitExceededException overSelf = assertThrows(LimitExceededException.class, () -> first.allocate(1));
            assertEquals("conn-1", overSelf.allocator());
            assertEquals(0, second.usedBytes(), "nothing charged");
            assertEquals(32 * 1024, tenant.usedBytes(), "nothing charged");
            assertEquals(buddyinfo, pages.buddyinfo(), "nothing allocated");
            first.free(held);
        }
    }

    @Test
    void shouldRefuseToFreeWhatAnotherChildOrTheRootHandedOut() {
        try (ChildAllocator first = pages.newChild("first", 1 << 20);
             ChildAllocator second = pages.newChild("second", 1 << 20)) {
            MemorySegment mine = first.allocate(256);
            MemorySegment root = pages.allocate(256);
            assertThrows(IllegalArgumentException.class, () -> second.free(mine));
            assertThrows(IllegalArgumentException.class, () -> first.free(root));
            assertEquals(256, first.usedBytes(), "nothing changed");
            first.free(mine);
            IllegalArgumentException twice = assertThrows(IllegalArgumentException.class, () -> first.free(mine));
            assertTrue(twice.getMessage().contains("freed already"), twice.getMessage());
            pages.free(root);
        }
    }

    @Test
    void shouldRefuseToCloseWithLiveAllocationsAndReportThem() {
        ChildAllocator table = pages.newChild("table", 1 << 20);
        MemorySegment row = table.allocate(64);
        IllegalStateException refused = assertThrows(IllegalStateException.class, table::close);
        assertTrue(refused.getMessage().contains("'table' still has 1 live allocations (64 bytes)")
                && refused.getMessage().contains(Long.toHexString(row.address())), refused.getMessage());
        row.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 0, (byte) 1); // still open, still usable
        table.free(row);
        table.close();
        assertThrows(IllegalStateException.class, () -> table.allocate(8), "closed");
    }

    @Test
    void shouldSayAClosedChildIsClosedBeforeLookingAtTheRequest() {
        ChildAllocator table = pages.newChild("table", 1 << 20);
        table.close();
        IllegalStateException refused = assertThrows(IllegalStateException.class, () -> table.allocate(-1));
        assertTrue(refused.getMessage().contains("'table' is closed"), refused.getMessage());
        assertThrows(IllegalStateException.class, () -> table.allocate(8, 3), "closed, not a bad alignment");
    }

    @Test
    void shouldRefuseAGrandchildOnceTheAllocatorIsClosed() {
        ChildAllocator tenant = pages.newChild("tenant", 1 << 20);
        pages.close();
        IllegalStateException refused = assertThrows(IllegalStateException.class, () -> tenant.newChild("connection", 1024));
        assertTrue(refused.getMessage().contains("PageAllocator is closed"), refused.getMessage());
        assertThrows(IllegalStateException.class, () -> tenant.allocate(-1), "closed, not a bad size");
        tenant.close(); // it holds nothing, so it closes
    }

    @Test
    void shouldFreeLiveAllocationsAtCloseWhenAsked() {
        ChildAllocator connection = pages.newChild("connection", 1 << 20, ChildAllocator.OnClose.FREE);
        for (int i = 0; i < 100; i++) {
            connection.allocate(1 + i * 100);
        }
        connection.close();
        assertEquals(0, connection.usedBytes());
        pages.trim();
        assertEquals(pages.capacity(), pages.freeBytes(), "every allocation given back");
    }

    @Test
    void shouldRefuseToCloseAParentWithOpenChildren() {
        ChildAllocator tenant = pages.newChild("tenant", 1 << 20);
        ChildAllocator connection = tenant.newChild("connection", 1 << 10);
        IllegalStateException refused = assertThrows(IllegalStateException.class, tenant::close);
        assertTrue(refused.getMessage().contains("open children"), refused.getMessage());
        connection.close();
        tenant.close();
    }

    @Test
    void shouldStayExactWhileThreadsAllocateAndFreeAcrossTheLimit() throws Exception {
        ChildAllocator tenant = pages.newChild("tenant", 256 * 1024);
        List<ChildAllocator> connections = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            connections.add(tenant.newChild("connection-" + i, 128 * 1024));
        }
        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        List<Thread> threads = new ArrayList<>();
        for (ChildAllocator connection : connections) {
            threads.add(Thread.ofPlatform().start(() -> {
                java.util.SplittableRandom random = new java.util.SplittableRandom(connection.name().hashCode());
                List<MemorySegment> held = new ArrayList<>();
                long charged = 0;
                for (int i = 0; i < 20_000; i++) {
                    if (held.isEmpty() || random.nextBoolean()) {
                        long size = 1 + random.nextInt(8192);
                        try {
                            held.add(connection.allocate(size));
                            charged += pages.usableSize(size);
                        } catch (LimitExceededException over) {
                            // expected now and then: the tenant or the connection is full
                        }
                    } else {
                        MemorySegment segment = held.remove(random.nextInt(held.size()));
                        connection.free(segment);
                        charged -= pages.usableSize(segment.byteSize());
                    }
                    if (connection.usedBytes() != charged || connection.usedBytes() > connection.limitBytes()) {
                        failures.add(new AssertionError(connection.name() + " counts " + connection.usedBytes()
                                + " but charged " + charged));
                        return;
                    }
                }
                held.forEach(connection::free);
            }));
        }
        for (Thread thread : threads) {
            thread.join();
        }
        assertTrue(failures.isEmpty(), failures.toString());
        assertTrue(tenant.usedBytes() == 0 && tenant.usedBytes() <= tenant.limitBytes());
        connections.forEach(ChildAllocator::close);
        tenant.close();
        assertFalse(tenant.toString().isEmpty());
    }

    @Test
    void shouldChargeTheBlockAnAlignedAllocationTakes() {
        try (ChildAllocator child = pages.newChild("tenant", 64 * 1024, ChildAllocator.OnClose.FREE)) {
            MemorySegment aligned = child.allocate(1, 8192);
            assertEquals(8192, child.usedBytes(), "a block of the alignment's size, not the one byte asked");
            LimitExceededException over = assertThrows(LimitExceededException.class, () -> child.allocate(1, 4L << 20));
            assertTrue(over.getMessage().contains("cannot take 4194304 more bytes"), over.getMessage());
            child.free(aligned);
            assertEquals(0, child.usedBytes());
        }
    }

    @Test
    void shouldChangeNothingWhenTheAllocatorRefusesAFree() {
        ChildAllocator child = pages.newChild("c", 1 << 20);
        MemorySegment segment = child.allocate(100);
        pages.free(segment); // the user's bug: freed behind the child's back
        assertThrows(IllegalStateException.class, () -> child.free(segment));
        assertEquals(1, child.liveAllocations(), "still recorded");
        assertEquals(112, child.usedBytes(), "still charged");
    }

    @Test
    void shouldGiveBackTheChargeOfASegmentFreedBehindItsBackOnceItsAddressComesBack() {
        ChildAllocator child = pages.newChild("c", 1 << 20);
        MemorySegment segment = child.allocate(100);
        pages.free(segment); // the user's bug: freed behind the child's back
        MemorySegment again = child.allocate(100);
        assertEquals(segment.address(), again.address(), "the same memory, handed out again");
        assertEquals(112, child.usedBytes(), "charged once: the first allocation is gone");
        child.free(again);
        assertEquals(0, child.usedBytes());
        assertEquals(0, child.liveAllocations());
    }

    @Test
    void shouldNeverCountANegativeUseWhileRefusingMoreThanTheAddressSpace() throws Exception {
        try (ChildAllocator child = pages.newChild("tenant", 1 << 20)) {
            java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
            java.util.concurrent.atomic.AtomicLong lowest = new java.util.concurrent.atomic.AtomicLong();
            Thread watcher = Thread.ofPlatform().start(() -> {
                while (!done.get()) {
                    lowest.accumulateAndGet(child.usedBytes(), Math::min);
                }
            });
            try {
                for (int i = 0; i < 20_000; i++) {
                    assertThrows(IllegalArgumentException.class, () -> child.allocate(Long.MAX_VALUE));
                }
            } finally {
                done.set(true);
                watcher.join();
            }
            assertEquals(0, lowest.get(), "the use seen while the requests were refused");
            assertEquals(0, child.usedBytes());
        }
    }

    @Test
    void shouldNeverRefuseARequestThatFitsForAnotherThatAParentRefuses() throws InterruptedException {
        try (ChildAllocator tenant = pages.newChild("tenant", 64 * 1024);
             ChildAllocator connection = tenant.newChild("connection", 150 * 1024)) {
            List<String> refused = refusalsWhile(
                    () -> connection.allocate(128 * 1024), // fits the connection, never the tenant
                    () -> connection.free(connection.allocate(32 * 1024)));
            assertEquals(List.of(), refused, "requests that fit every limit, nothing else live");
            assertEquals(0, tenant.usedBytes());
        }
    }

    @Test
    void shouldNeverRefuseARequestThatFitsForTheChargeOfOneTheAllocatorCannotServe() throws InterruptedException {
        try (PageAllocator small = PageAllocator.builder().capacity(8L << 20).minFreeBytes(0).build()) {
            long half = small.allocatePages(10);
            long quarter = small.allocatePages(9); // 2 MiB left free: no 4 MiB block
            ChildAllocator child = small.newChild("child", (4L << 20) + 8); // not both at once
            List<String> refused = refusalsWhile(
                    () -> child.allocate(4L << 20), // within the limit, but no memory for it
                    () -> child.free(child.allocate(16)));
            assertEquals(List.of(), refused, "16-byte requests, within the limit beside a request that failed");
            assertEquals(0, child.usedBytes());
            small.freePages(half, 10);
            small.freePages(quarter, 9);
        }
    }

    /**
     * Runs {@code fitting} over and over for half a second while another thread runs {@code doomed},
     * a request refused or failing every time it does not find {@code fitting}'s memory live;
     * returns the messages of the fitting requests refused (the first ten).
     */
    private static List<String> refusalsWhile(Runnable doomed, Runnable fitting) throws InterruptedException {
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        Thread other = Thread.ofPlatform().start(() -> {
            while (!stop.get()) {
                try {
                    doomed.run();
                } catch (LimitExceededException | OutOfPagesException expected) {
                    // refused, or failed: what it is there for
                }
            }
        });
        List<String> refused = new ArrayList<>();
        long end = System.nanoTime() + 500_000_000L;
        try {
            while (System.nanoTime() < end && refused.size() < 10) {
                try {
                    fitting.run();
                } catch (LimitExceededException e) {
                    refused.add(e.getMessage());
                }
            }
        } finally {
            stop.set(true);
            other.join();
        }
        return refused;
    }

    @Test
    void shouldChangeNothingWhenTheAllocatorRefusesAFreeAtClose() {
        ChildAllocator tenant = pages.newChild("tenant", 1 << 20);
        ChildAllocator connection = tenant.newChild("connection", 1 << 20, ChildAllocator.OnClose.FREE);
        MemorySegment segment = connection.allocate(100);
        pages.free(segment); // the user's bug: freed behind the child's back
        assertThrows(IllegalStateException.class, connection::close);
        assertEquals(1, connection.liveAllocations(), "still recorded");
        assertEquals(112, connection.usedBytes(), "still charged");
        assertEquals(112, tenant.usedBytes(), "still charged to the parent");
        assertThrows(IllegalStateException.class, connection::close, "refused again: the child did not close with a charge it cannot give back");
        assertEquals(112, tenant.usedBytes());
    }

    @Test
    void shouldRefuseANegativeLimit() {
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> pages.newChild("x", -1));
        assertTrue(refused.getMessage().contains("'x'"), refused.getMessage());
    }
}
