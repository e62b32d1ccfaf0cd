package io.pagoda;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The debug mode: poisoning checked on reuse, owners recorded, double frees and leaks reported with their sites. */
class DebugModeTest {

    private PageAllocator pages;

    @BeforeEach
    void setUp() {
        pages = PageAllocator.builder().capacity(16L << 20).debug(true).build();
    }

    @AfterEach
    void tearDown() {
        pages.close();
    }

    @Test
    void shouldPoisonFreedMemoryPastASlabObjectsHeader() {
        MemorySegment object = pages.allocate(256);
        object.fill((byte) 1);
        pages.free(object);
        for (long i = DebugChecks.SLAB_HEADER; i < 256; i++) {
            assertEquals(DebugChecks.POISON, object.get(JAVA_BYTE, i));
        }
        MemorySegment block = pages.allocate(8192);
        pages.free(block);
        assertEquals(DebugChecks.POISON, block.get(JAVA_BYTE, 0), "a block is poisoned whole");
    }

    @Test
    void shouldCatchAWriteAfterFreeOfAnObjectWithTheStackThatFreedIt() {
        MemorySegment object = pages.allocate(256);
        pages.free(object);
        object.set(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, 100, 42L); // a use after free
        IllegalStateException caught = assertThrows(IllegalStateException.class, () -> pages.allocate(256));
        assertTrue(caught.getMessage().contains("use after free: 0x" + Long.toHexString(object.address())), caught.getMessage());
        assertTrue(caught.getMessage().contains("written at offset 100"), caught.getMessage());
        assertTrue(caught.getMessage().contains("freed 0x") && caught.getMessage().contains("shouldCatchAWriteAfterFreeOfAnObject"),
                "names where it was freed: " + caught.getMessage());
        MemorySegment next = pages.allocate(256);
        assertTrue(next.address() != object.address(), "the corrupted object is kept out of use");
    }

    @Test
    void shouldCatchAWriteAfterFreeOfABlock() {
        MemorySegment block = pages.allocate(4096);
        pages.free(block);
        block.set(JAVA_BYTE, 4095, (byte) 0);
        IllegalStateException caught = assertThrows(IllegalStateException.class, () -> pages.allocate(4096));
        assertTrue(caught.getMessage().contains("written at offset 4095"), caught.getMessage());
    }

    @Test
    void shouldNameWhereTheFirstFreeWasOnADoubleFree() {
        MemorySegment object = pages.allocate(100);
        pages.allocate(100); // keeps the object from being handed out again
        pages.free(object);
        IllegalStateException twice = assertThrows(IllegalStateException.class, () -> pages.free(object));
        assertTrue(twice.getMessage().contains("double free") && twice.getMessage().contains("It was freed 0x")
                && twice.getMessage().contains("shouldNameWhereTheFirstFreeWasOnADoubleFree"), twice.getMessage());
        long block = pages.allocatePages(2);
        pages.allocatePages(2);
        pages.freePages(block, 2);
        IllegalStateException blockTwice = assertThrows(IllegalStateException.class, () -> pages.freePages(block, 2));
        assertTrue(blockTwice.getMessage().contains("It was freed 0x"), blockTwice.getMessage());
    }

    @Test
    void shouldRefuseADoubleFreeOfAnObjectWhoseMarkerAUseAfterFreeOverwrote() {
        MemorySegment object = pages.allocate(100);
        pages.free(object);
        object.set(java.lang.foreign.ValueLayout.JAVA_LONG, 0, 0L); // a use after free: "node.next = null"
        IllegalStateException twice = assertThrows(IllegalStateException.class, () -> pages.free(object));
        assertTrue(twice.getMessage().contains("double free") && twice.getMessage().contains("It was freed 0x"),
                twice.getMessage());
    }

    @Test
    void shouldNotHandOutTwiceAnObjectFreedTwiceOnceBackInItsSlab() {
        MemorySegment keep = pages.allocate(100); // keeps the slab from going back to the zone
        MemorySegment object = pages.allocate(100);
        pages.free(object);
        pages.trim(); // the object back on its slab's free list
        object.set(java.lang.foreign.ValueLayout.JAVA_LONG, 0, 0L);
        assertThrows(IllegalStateException.class, () -> pages.free(object));
        java.util.Set<Long> handedOut = new java.util.HashSet<>();
        for (int i = 0; i < 64; i++) {
            long address = pages.allocate(100).address();
            assertTrue(handedOut.add(address), "handed out twice: 0x" + Long.toHexString(address));
        }
        pages.free(keep);
    }

    @Test
    void shouldReportLiveAllocationsWithTheirSites() {
        MemorySegment object = pages.allocate(100);
        long block = pages.allocateAddress(20_000);
        String report = pages.leakReport();
        assertTrue(report.contains("allocated 0x" + Long.toHexString(object.address()) + " (112 bytes)"), report);
        assertTrue(report.contains("allocated 0x" + Long.toHexString(block) + " (32768 bytes)"), report);
        assertTrue(report.contains("shouldReportLiveAllocationsWithTheirSites"), "with the allocating frame: " + report);
        pages.free(object);
        pages.freeAddress(block);
        assertEquals("", pages.leakReport(), "nothing live, nothing reported");
    }

    @Test
    void shouldListTheFirstHundredLeaksAndCountTheRest() {
        java.util.List<MemorySegment> held = new java.util.ArrayList<>();
        for (int i = 0; i < 250; i++) {
            held.add(pages.allocate(64));
        }
        String report = pages.leakReport();
        assertEquals(100, report.lines().filter(line -> line.startsWith("leak: allocated 0x")).count(), report);
        assertTrue(report.endsWith("leak: 150 more allocations (9600 bytes) are live, not listed"), report);
        held.forEach(pages::free);
        assertEquals("", pages.leakReport());
    }

    @Test
    void shouldReportAByteBufferDroppedWithoutRelease() throws InterruptedException {
        dropABuffer();
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!pages.leakReport().contains("became unreachable without release") && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(10);
        }
        String report = pages.leakReport();
        assertTrue(report.contains("a ByteBuffer of 1500 bytes became unreachable without release")
                && report.contains("dropABuffer"), report);
    }

    private void dropABuffer() {
        ByteBuffer buffer = pages.allocateBuffer(1500);
        buffer.putInt(0, 7);
    }

    @Test
    void shouldNotReportAReleasedByteBuffer() throws InterruptedException {
        pages.release(pages.allocateBuffer(1500));
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(10);
        }
        assertEquals("", pages.leakReport());
    }

    @Test
    void shouldNameTheAllocationSitesOfWhatKeepsAChildFromClosing() {
        ChildAllocator table = pages.newChild("table", 1 << 20);
        MemorySegment row = table.allocate(64);
        IllegalStateException refused = assertThrows(IllegalStateException.class, table::close);
        assertTrue(refused.getMessage().contains("allocated 0x" + Long.toHexString(row.address()))
                && refused.getMessage().contains("shouldNameTheAllocationSitesOfWhatKeepsAChildFromClosing"), refused.getMessage());
        table.free(row);
        table.close();
    }

    @Test
    void shouldRecordSomeStacksWhenSampledAndStillCheckEveryReuse() {
        try (PageAllocator sampled = PageAllocator.builder().capacity(4L << 20).debug(true).debugSampling(1000).build()) {
            java.util.List<MemorySegment> held = new java.util.ArrayList<>();
            for (int i = 0; i < 100; i++) {
                held.add(sampled.allocate(64));
            }
            String report = sampled.leakReport();
            assertTrue(report.contains("(stack not sampled)"), "most sites carry their thread alone: " + report.substring(0, 200));
            held.forEach(sampled::free);
            MemorySegment last = held.get(held.size() - 1);
            last.set(JAVA_BYTE, 20, (byte) 1); // after its free
            IllegalStateException caught = assertThrows(IllegalStateException.class, () -> sampled.allocate(64));
            assertTrue(caught.getMessage().contains("use after free"), caught.getMessage());
        }
    }

    @Test
    void shouldLoseNoHealthyObjectWhenAUseAfterFreeIsCaughtWhileASlabIsCarved() {
        java.util.List<MemorySegment> objects = new java.util.ArrayList<>();
        for (int i = 0; i < 8; i++) {
            objects.add(pages.allocate(2048)); // two slabs of four 2 KiB objects, all out
        }
        pages.free(objects.removeLast());
        pages.free(objects.removeLast());
        pages.trim(); // one partial slab with two free objects, magazines empty
        // Slabs are long-lived: the next one is carved from the long-lived block freed here.
        long block = pages.allocatePages(1, Lifetime.LONG_LIVED);
        pages.freePages(block, 1); // poisoned, back in the zone
        MemorySegment.ofAddress(block).reinterpret(8192).set(JAVA_BYTE, 100, (byte) 1); // written after its free
        assertThrows(IllegalStateException.class, () -> pages.allocate(2048), "caught when a slab is carved from it");
        objects.forEach(pages::free);
        pages.trim();
        assertEquals(0, pages.slabs().objectBytesOut(), "the two objects the batch had taken went back");
    }

    @Test
    void shouldReportALargeMappingStillLive() {
        MemorySegment large = pages.allocate(32L << 20);
        assertTrue(pages.leakReport().contains("allocated 0x" + Long.toHexString(large.address())), pages.leakReport());
        pages.free(large);
        assertEquals("", pages.leakReport());
    }

    @Test
    void shouldCostNothingAndReportNothingWhenOff() {
        try (PageAllocator plain = PageAllocator.builder().capacity(4L << 20).debug(false).build()) {
            plain.allocate(100);
            assertEquals("", plain.leakReport());
        }
    }

    // A second release of a buffer, or a second free through a child, is refused before free sees
    // it (found in review): the debug mode still names the first.

    @Test
    void shouldNameTheFirstReleaseOfABufferReleasedTwice() {
        ByteBuffer buffer = pages.allocateBuffer(100);
        ByteBuffer other = pages.allocateBuffer(100); // keeps the memory from being handed out again in between
        releaseOnce(buffer);
        IllegalStateException twice = assertThrows(IllegalStateException.class, () -> pages.release(buffer));
        assertTrue(twice.getMessage().contains("double release") && twice.getMessage().contains("It was freed 0x")
                && twice.getMessage().contains("releaseOnce"), twice.getMessage());
        pages.release(other);
        assertEquals("", pages.leakReport(), "the second release changed nothing");
    }

    private void releaseOnce(ByteBuffer buffer) {
        pages.release(buffer);
    }

    @Test
    void shouldNameTheFirstFreeOfASegmentFreedTwiceThroughAChild() {
        try (ChildAllocator child = pages.newChild("table", 1 << 20)) {
            MemorySegment row = child.allocate(64);
            MemorySegment other = child.allocate(64);
            freeOnce(child, row);
            IllegalArgumentException twice = assertThrows(IllegalArgumentException.class, () -> child.free(row));
            assertTrue(twice.getMessage().contains("freed already") && twice.getMessage().contains("It was freed 0x")
                    && twice.getMessage().contains("freeOnce"), twice.getMessage());
            assertEquals(64, child.usedBytes(), "nothing changed");
            child.free(other);
        }
    }

    private static void freeOnce(ChildAllocator child, MemorySegment segment) {
        child.free(segment);
    }
}
