package io.pagoda;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * With {@code exactRuns(true)}, sizes above the size classes take the frames they need, not the
 * next power of two ({@link io.pagoda.buddy.ExactRuns}, the kernel's alloc_pages_exact), and give them all back
 * when freed.
 */
class ExactRunTest {

    private static final int PAGE = 4096;
    private static final long MAX_BLOCK = PAGE << 10;
    private static final String ALL_FREE = "Node 0, zone   Normal      0      0      0      0      0      0      0      0      0      0      1 \n";

    /** The caches are off, so that every frame's whereabouts show in the buddyinfo. */
    private final PageAllocator pages = PageAllocator.builder().capacity(MAX_BLOCK).cachedOrders(0).minFreeBytes(0)
            .exactRuns(true).build();

    @AfterEach
    void closeAllocator() {
        pages.close();
    }

    @Test
    void shouldTakeOnlyTheFramesASizeAboveTheClassesNeeds() {
        MemorySegment run = pages.allocate(20_000); // 5 frames, where a block would take 8
        assertEquals(20_000, run.byteSize());
        assertEquals(MAX_BLOCK - 5 * PAGE, pages.freeBytes());
        assertEquals(5 * PAGE, pages.usableSize(20_000));
        // The 3 frames past the run went back as buddy blocks of 1 and 2 frames.
        assertEquals("Node 0, zone   Normal      1      1      0      1      1      1      1      1      1      1      0 \n",
                pages.buddyinfo());
        InvariantChecker.check(pages, Map.of(run.address(), 3));
    }

    @Test
    void shouldKeepEveryByteOfTheRunUsable() {
        MemorySegment run = pages.allocate(100_000); // 25 frames: blocks of 16, 8 and 1
        run.fill((byte) 0x5A);
        assertEquals(-1L, run.mismatch(MemorySegment.ofArray(new byte[100_000]).fill((byte) 0x5A)));
        pages.free(run);
        assertEquals(ALL_FREE, pages.buddyinfo());
    }

    @Test
    void shouldMergeBackIntoTheWholeBlockWhenFreedByAddress() {
        long run = pages.allocateAddress(3 * MAX_BLOCK / 4 + 1);
        pages.freeAddress(run);
        assertEquals(ALL_FREE, pages.buddyinfo());
        assertEquals(MAX_BLOCK, pages.freeBytes());
        InvariantChecker.check(pages);
    }

    @Test
    void shouldAlignARunAsTheBlockItWasCutFrom() {
        MemorySegment run = pages.allocate(5 * PAGE, 64 * 1024);
        assertEquals(0, run.address() % (64 * 1024));
        assertEquals(MAX_BLOCK - 5 * PAGE, pages.freeBytes(), "the alignment costs no frames once the tail is freed");
        pages.free(run);
        assertEquals(ALL_FREE, pages.buddyinfo());
    }

    @Test
    void shouldRefuseAFreeInsideARunAndChangeNothing() {
        long run = pages.allocateAddress(5 * PAGE); // blocks of 4 and 1 frames
        String before = pages.buddyinfo();
        IllegalArgumentException inside = assertThrows(IllegalArgumentException.class, () -> pages.freeAddress(run + 4 * PAGE));
        assertTrue(inside.getMessage().contains("inside a run"), inside.getMessage());
        assertThrows(IllegalArgumentException.class, () -> pages.freePages(run, 2), "nor a page-level free of its head");
        assertThrows(IllegalArgumentException.class, () -> pages.freePages(run + 4 * PAGE, 0), "nor of a block inside it");
        assertEquals(before, pages.buddyinfo());
        pages.freeAddress(run);
        assertEquals(ALL_FREE, pages.buddyinfo());
    }

    @Test
    void shouldSayThatAPageLevelFreeOfARunsBlockIsARunNotAWrongOrder() {
        long run = pages.allocateAddress(5 * PAGE); // blocks of 4 and 1 frames
        String before = pages.buddyinfo();
        for (long block : new long[] {run, run + 4 * PAGE}) {
            int order = block == run ? 2 : 0; // the order the block's descriptor holds
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> pages.freePages(block, order));
            assertTrue(refused.getMessage().contains("exact run"), refused.getMessage());
            assertFalse(refused.getMessage().contains("wrong size"), refused.getMessage());
        }
        assertEquals(before, pages.buddyinfo());
        pages.freeAddress(run);
        assertEquals(ALL_FREE, pages.buddyinfo());
    }

    @Test
    void shouldRefuseASegmentLargerThanTheRunAndChangeNothing() {
        MemorySegment run = pages.allocate(5 * PAGE);
        MemorySegment larger = pages.region().memory().asSlice(run.address() - pages.region().base(), 6 * PAGE);
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> pages.free(larger));
        assertTrue(refused.getMessage().contains("larger than the run of 5 frames"), refused.getMessage());
        assertEquals(MAX_BLOCK - 5 * PAGE, pages.freeBytes());
        pages.free(run);
        assertEquals(ALL_FREE, pages.buddyinfo());
    }

    @Test
    void shouldRefuseADoubleFreeOfARun() {
        long run = pages.allocateAddress(5 * PAGE);
        pages.freeAddress(run);
        assertThrows(RuntimeException.class, () -> pages.freeAddress(run));
        assertEquals(ALL_FREE, pages.buddyinfo());
        assertEquals(MAX_BLOCK, pages.freeBytes());
    }

    @Test
    void shouldStillServeAWholeBlockForAPowerOfTwoFrames() {
        long block = pages.allocateAddress(8 * PAGE);
        pages.freePages(block, 3); // a plain block: the page-level free takes it
        assertEquals(ALL_FREE, pages.buddyinfo());
    }

    @Test
    void shouldZeroTheWholeRunWhenAsked() {
        try (PageAllocator zeroing = PageAllocator.builder().capacity(MAX_BLOCK).cachedOrders(0).minFreeBytes(0)
                .exactRuns(true).zeroed(true).build()) {
            MemorySegment dirty = zeroing.allocate(MAX_BLOCK);
            dirty.fill((byte) 0xFF);
            zeroing.free(dirty);
            MemorySegment run = zeroing.allocate(MAX_BLOCK - PAGE); // 1023 frames of the dirty block
            assertEquals(-1L, run.mismatch(MemorySegment.ofArray(new byte[(int) (MAX_BLOCK - PAGE)])));
            zeroing.free(run);
        }
    }

    @Test
    void shouldTrackARunAsOneAllocationInTheDebugMode() {
        try (PageAllocator debug = PageAllocator.builder().capacity(MAX_BLOCK).cachedOrders(0).minFreeBytes(0)
                .exactRuns(true).debug(true).build()) {
            long run = debug.allocateAddress(20_000);
            assertTrue(debug.leakReport().contains("(20480 bytes)"), debug.leakReport());
            debug.freeAddress(run);
            assertEquals("", debug.leakReport());
            RuntimeException twice = assertThrows(RuntimeException.class, () -> debug.freeAddress(run));
            assertTrue(twice.getMessage().contains("freed"), twice.getMessage());
        }
    }

    @Test
    void shouldReportTheFramesAnAlignedRunTakesAsItsUsableSize() {
        long before = pages.freeBytes();
        MemorySegment run = pages.allocate(5000, 65536); // no class is 64 KiB aligned: a run of 2 frames
        assertEquals(before - pages.freeBytes(), pages.usableSize(5000, 65536));
        assertEquals(2 * PAGE, pages.usableSize(5000, 65536));
        pages.free(run);
    }

    @Test
    void shouldChargeAChildTheFramesItsAlignedRunsTake() {
        ChildAllocator child = pages.newChild("c", 8 * 5120, ChildAllocator.OnClose.FREE); // 10 frames
        long before = pages.freeBytes();
        for (int i = 0; i < 5; i++) {
            child.allocate(5000, 65536);
        }
        assertEquals(before - pages.freeBytes(), child.usedBytes(), "charged what was taken: 5 runs of 2 frames");
        assertThrows(LimitExceededException.class, () -> child.allocate(5000, 65536), "a sixth goes over the limit");
        child.close();
    }
}
