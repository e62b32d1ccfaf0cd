package io.pagoda.buddy;

import io.pagoda.region.PageDescriptors;
import io.pagoda.region.Region;

import java.util.ArrayList;
import java.util.List;

import static io.pagoda.region.PageDescriptors.NO_FRAME;

/**
 * The buddy core of one allocator: its nodes, each with its zones, over one page-descriptor
 * table. It answers in frame numbers and sentinels ({@link PageDescriptors#NO_FRAME},
 * {@link Zone#FREED}); turning them into addresses and exceptions is the API layer's job.
 */
public final class BuddySystem {

    /** The kernel's name for the zone that holds ordinary memory, as /proc/buddyinfo prints it. */
    public static final String NORMAL = "Normal";

    private final List<Node> nodes;
    private final int maxOrder;
    private final long managedFrames;

    /**
     * Builds a buddy system over frames {@code [0, frames)}: one node with one Normal zone.
     *
     * @param pageblockOrder  order of the pageblocks that group lifetimes, in [0, maxOrder]
     * @param groupByLifetime false to keep all lifetime types together (for comparison)
     * @param minFreeFrames   the min watermark of all zones together (the kernel's
     *                        min_free_kbytes), shared among them by size
     */
    public BuddySystem(PageDescriptors descriptors, int frames, int maxOrder, int pageblockOrder, boolean groupByLifetime,
                       long minFreeFrames) {
        if (maxOrder < 0 || maxOrder > PageDescriptors.MAX_ORDER_LIMIT) {
            throw new IllegalArgumentException("maxOrder " + maxOrder + " outside [0, " + PageDescriptors.MAX_ORDER_LIMIT + "]");
        }
        List<Node> built = new ArrayList<>();
        built.add(new Node(0, List.of(new Zone(NORMAL, 0, descriptors, 0, frames, maxOrder, pageblockOrder, groupByLifetime,
                Watermarks.derive(frames, minFreeFrames)))));
        this.nodes = List.copyOf(built);
        this.maxOrder = maxOrder;
        this.managedFrames = frames;
    }

    /**
     * Allocates a block of 2^order frames: the head pfn, or NO_FRAME if no node can serve it.
     *
     * @param belowMin whether the memory below the zones' min watermarks may be taken: for
     *                 critical allocations and for reclaim itself
     */
    public int allocate(int order, int lifetime, boolean belowMin) {
        for (int i = 0; i < nodes.size(); i++) {
            int pfn = nodes.get(i).allocate(order, lifetime, belowMin);
            if (pfn != NO_FRAME) {
                return pfn;
            }
        }
        return NO_FRAME;
    }

    /**
     * One purge pass over every zone (see {@link Zone#purge}): hands the memory of large blocks
     * free for {@code decayEpochs} passes back to the operating system.
     *
     * @return the frames handed back
     */
    public long purge(int decayEpochs, int limitPerZone, Region region) {
        long purged = 0;
        for (Node node : nodes) {
            for (Zone zone : node.zones()) {
                purged += zone.purge(decayEpochs, limitPerZone, region);
            }
        }
        return purged;
    }

    /** Sets what every zone runs when an allocation leaves it below its low watermark. */
    public void onLowWatermark(Runnable wakeup) {
        for (Node node : nodes) {
            for (Zone zone : node.zones()) {
                zone.onLowWatermark(wakeup);
            }
        }
    }

    /**
     * Frees the block of 2^order frames at {@code pfn}.
     *
     * @return {@link Zone#FREED}, or the info word found at {@code pfn} if it was not the head of
     *         an allocated block of that order (nothing changed)
     * @throws IllegalArgumentException if no zone spans {@code pfn}
     */
    public int free(int pfn, int order) {
        return zoneOf(pfn).free(pfn, order);
    }

    /** The zone that spans {@code pfn}. */
    public Zone zoneOf(int pfn) {
        for (int i = 0; i < nodes.size(); i++) {
            Zone zone = nodes.get(i).zoneOf(pfn);
            if (zone != null) {
                return zone;
            }
        }
        throw new IllegalArgumentException("pfn " + pfn + " belongs to no zone");
    }

    /** Retires every zone: later calls throw. Waits for callers inside a zone lock. */
    public void retire() {
        for (Node node : nodes) {
            for (Zone zone : node.zones()) {
                zone.retire();
            }
        }
    }

    public List<Node> nodes() {
        return nodes;
    }

    public int maxOrder() {
        return maxOrder;
    }

    /** Frames managed by all zones. */
    public long managedFrames() {
        return managedFrames;
    }

    /** Free frames in all zones. */
    public long freeFrames() {
        long free = 0;
        for (Node node : nodes) {
            for (Zone zone : node.zones()) {
                free += zone.freeFrames();
            }
        }
        return free;
    }

    /** Frames handed out by all zones. */
    public long allocatedFrames() {
        long allocated = 0;
        for (Node node : nodes) {
            for (Zone zone : node.zones()) {
                allocated += zone.allocatedFrames();
            }
        }
        return allocated;
    }
}
