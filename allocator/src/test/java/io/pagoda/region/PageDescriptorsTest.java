package io.pagoda.region;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

import java.io.IOException;
import java.lang.ref.WeakReference;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The descriptor table is reached without a segment of its own (see {@link PageDescriptors}): what
 * that segment's checks guarded, bounds and liveness, is kept by the table itself.
 */
class PageDescriptorsTest {

    private static final int FRAMES = 64;
    private static final int PAGE_SHIFT = 12;

    @Test
    void shouldRefuseAFrameOutsideTheTableAndChangeNothing() {
        Region region = Region.reserve(FRAMES, PAGE_SHIFT, 1 << PAGE_SHIFT, true);
        try {
            PageDescriptors descriptors = region.descriptors();
            descriptors.setInfo(FRAMES - 1, 7);
            assertThrows(IndexOutOfBoundsException.class, () -> descriptors.info(FRAMES));
            assertThrows(IndexOutOfBoundsException.class, () -> descriptors.info(-1));
            assertThrows(IndexOutOfBoundsException.class, () -> descriptors.setInfo(FRAMES, 9));
            assertThrows(IndexOutOfBoundsException.class, () -> descriptors.setNext(Integer.MIN_VALUE, 9));
            assertEquals(7, descriptors.info(FRAMES - 1));
        } finally {
            region.close();
        }
    }

    @Test
    @EnabledOnOs(OS.LINUX)
    void shouldReadZerosNotFreedMemoryOnceTheRegionIsClosed() {
        Region region = Region.reserve(FRAMES, PAGE_SHIFT, 1 << PAGE_SHIFT, true);
        PageDescriptors descriptors = region.descriptors();
        descriptors.setInfo(3, PageDescriptors.info(PageDescriptors.ALLOCATED, 0, 0));
        region.close();
        // A thread still inside an operation when its allocator closed sees a tail: a free refuses it.
        assertEquals(PageDescriptors.TAIL, descriptors.info(3));
    }

    @Test
    @EnabledOnOs(OS.LINUX)
    void shouldUnmapTheTableOnceNothingReachesIt() throws Exception {
        // A large table, so that no other mapping fills the hole it leaves before we look.
        Region region = Region.reserve(1 << 24, PAGE_SHIFT, 1 << PAGE_SHIFT, true);
        long table = region.descriptors().tableAddress();
        assertTrue(isMapped(table), "mapped while reachable");
        region.close();
        assertTrue(isMapped(table), "still mapped after close, while the descriptors are reachable");
        WeakReference<Region> gone = new WeakReference<>(region);
        region = null;
        for (int attempt = 0; attempt < 200 && (gone.get() != null || isMapped(table)); attempt++) {
            System.gc();
            Thread.sleep(10);
        }
        assertNull(gone.get());
        assertFalse(isMapped(table), "unmapped once unreachable");
    }

    /** Whether some mapping of this process covers {@code address}, from /proc/self/maps. */
    private static boolean isMapped(long address) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            String[] range = line.substring(0, line.indexOf(' ')).split("-");
            long start = HexFormat.fromHexDigitsToLong(range[0]);
            long end = HexFormat.fromHexDigitsToLong(range[1]);
            if (Long.compareUnsigned(address, start) >= 0 && Long.compareUnsigned(address, end) < 0) {
                return true;
            }
        }
        return false;
    }
}
