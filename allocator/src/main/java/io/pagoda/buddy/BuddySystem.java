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
 *
 * <h2>Nodes and zonelists</h2>
 * The region is cut into equal contiguous slices, one per node (the kernel's {@code pg_data_t}),
 * each a whole number of max-order blocks (the last takes the rest). Each node has a zonelist
 * (the kernel's {@code node_zonelists}): itself first, then the other nodes by distance, nearer
 * first, ties broken by counting on from the node, so that the nodes' overflow spreads evenly.
 */
public final class BuddySystem {

    /** The kernel's name for the zone that holds ordinary memory, as /proc/buddyinfo prints it. */
    public static final String NORMAL = "Normal";
    /** The distance of a node to itself and to the others when not configured, as ACPI's SLIT says. */
    public static final int LOCAL_DISTANCE = 10;
    public static final int REMOTE_DISTANCE = 20;

    /**
     * How to build a buddy system.
     *
     * @param frames          frames of the region
     * @param nodes           number of nodes, at least 1
     * @param distances       nodes x nodes distances, or null for LOCAL_DISTANCE and REMOTE_DISTANCE
     * @param maxOrder        the largest order
     * @param pageblockOrder  order of the pageblocks that group lifetimes, in [0, maxOrder]
     * @param groupByLifetime false to keep all lifetime types together (for comparison)
     * @param minFreeFrames   the min watermark of all zones together (the kernel's
     *                        min_free_kbytes), shared among them by size
     */
    public record Config(int frames, int nodes, int[][] distances, int maxOrder, int pageblockOrder,
                         boolean groupByLifetime, long minFreeFrames) {
    }

    private final List<Node> nodes;
    private final Zone[] zones;
    private final int[][] zonelists;
    private final int sliceFrames;
    /** ceil(2^64 / sliceFrames), unsigned, for {@link #nodeOf}; 0 for slices of one frame, which have none. */
    private final long sliceReciprocal;
    private final int maxOrder;
    private final long managedFrames;

    /**
     * Builds a buddy system over frames {@code [0, frames)}: nodes of one Normal zone each.
     *
     * @throws IllegalArgumentException if maxOrder is out of range, the region is too small for a
     *         max-order block per node, or the distances are not a nodes x nodes table whose
     *         diagonal is below every other entry of its row
     */
    public BuddySystem(PageDescriptors descriptors, Config config) {
        int maxOrder = config.maxOrder();
        if (maxOrder < 0 || maxOrder > PageDescriptors.MAX_ORDER_LIMIT) {
            throw new IllegalArgumentException("maxOrder " + maxOrder + " outside [0, " + PageDescriptors.MAX_ORDER_LIMIT + "]");
        }
        int count = config.nodes();
        if (count < 1) {
            throw new IllegalArgumentException("nodes must be at least 1: " + count);
        }
        int frames = config.frames();
        int slice = (frames / count) & -(1 << maxOrder);
        if (count > 1 && slice == 0) {
            throw new IllegalArgumentException(frames + " frames are too few for " + count
                    + " nodes: each needs a block of 2^" + maxOrder + " frames at least");
        }
        int[][] distances = config.distances() != null ? checkDistances(config.distances(), count) : defaultDistances(count);
        List<Node> built = new ArrayList<>();
        this.zones = new Zone[count];
        for (int id = 0; id < count; id++) {
            int start = id * slice;
            int end = id == count - 1 ? frames : start + slice;
            long zoneMin = config.minFreeFrames() * (end - start) / frames;
            zones[id] = new Zone(NORMAL, id, descriptors, start, end, maxOrder, config.pageblockOrder(),
                    config.groupByLifetime(), Watermarks.derive(end - start, zoneMin));
            built.add(new Node(id, List.of(zones[id])));
        }
        this.nodes = List.copyOf(built);
        this.zonelists = zonelists(distances);
        this.sliceFrames = count == 1 ? frames : slice;
        this.sliceReciprocal = sliceFrames == 1 ? 0 : Long.divideUnsigned(-1L, sliceFrames) + 1;
        this.maxOrder = maxOrder;
        this.managedFrames = frames;
    }

    private static int[][] defaultDistances(int count) {
        int[][] distances = new int[count][count];
        for (int from = 0; from < count; from++) {
            for (int to = 0; to < count; to++) {
                distances[from][to] = from == to ? LOCAL_DISTANCE : REMOTE_DISTANCE;
            }
        }
        return distances;
    }

    private static int[][] checkDistances(int[][] distances, int count) {
        if (distances.length != count) {
            throw new IllegalArgumentException("distances must be a " + count + " x " + count + " table: it has "
                    + distances.length + " rows");
        }
        int[][] copy = new int[count][];
        for (int from = 0; from < count; from++) {
            if (distances[from] == null || distances[from].length != count) {
                throw new IllegalArgumentException("distances row " + from + " must have " + count + " entries");
            }
            copy[from] = distances[from].clone();
            for (int to = 0; to < count; to++) {
                if (to != from && copy[from][to] <= copy[from][from]) {
                    throw new IllegalArgumentException("distance from node " + from + " to node " + to + " ("
                            + copy[from][to] + ") must be above its distance to itself (" + copy[from][from] + ")");
                }
            }
        }
        return copy;
    }

    /** Each node, then the others by distance, ties in the order counted on from the node. */
    private static int[][] zonelists(int[][] distances) {
        int count = distances.length;
        int[][] lists = new int[count][];
        for (int from = 0; from < count; from++) {
            int origin = from;
            lists[from] = java.util.stream.IntStream.range(0, count).boxed()
                    .sorted(java.util.Comparator.<Integer>comparingInt(to -> distances[origin][to])
                            .thenComparingInt(to -> Math.floorMod(to - origin, count)))
                    .mapToInt(Integer::intValue).toArray();
        }
        return lists;
    }

    /**
     * Allocates a block of 2^order frames from {@code node}'s zonelist: the head pfn, or NO_FRAME
     * if none of its nodes can serve it.
     *
     * @param bind     only the node itself, never the others (the kernel's MPOL_BIND)
     * @param belowMin whether the memory below the zones' min watermarks may be taken: for
     *                 critical allocations and for reclaim itself
     */
    public int allocate(int node, boolean bind, int order, int lifetime, boolean belowMin) {
        int[] zonelist = zonelists[node];
        int tries = bind ? 1 : zonelist.length;
        for (int i = 0; i < tries; i++) {
            int pfn = zones[zonelist[i]].allocate(order, lifetime, belowMin);
            if (pfn != NO_FRAME) {
                return pfn;
            }
        }
        return NO_FRAME;
    }

    /** Entry {@code index} of {@code node}'s zonelist: the nodes to try for an allocation local to it, in order. */
    public int zonelistEntry(int node, int index) {
        return zonelists[node][index];
    }

    /** The node whose slice holds {@code pfn}. */
    public int nodeOf(int pfn) {
        // Every free of a cached block asks, so divide by multiplying (Lemire's fastdiv): for any
        // int n and divisor d > 1, n / d is the high half of n * ceil(2^64 / d), exactly.
        int slice = sliceReciprocal == 0 ? pfn : (int) Math.unsignedMultiplyHigh(sliceReciprocal, pfn);
        return Math.min(slice, zones.length - 1);
    }

    /** The zone of node {@code node}. */
    public Zone zone(int node) {
        return zones[node];
    }

    /** Number of nodes. */
    public int nodeCount() {
        return zones.length;
    }

    /**
     * One purge pass over every zone (see {@link Zone#purge}): hands the memory of large blocks
     * free for {@code decayEpochs} passes back to the operating system.
     *
     * @return the frames handed back
     */
    public long purge(int decayEpochs, int limitPerZone, Region region) {
        long purged = 0;
        for (Zone zone : zones) {
            purged += zone.purge(decayEpochs, limitPerZone, region);
        }
        return purged;
    }

    /**
     * Gives every zone's reserved pageblocks back to ordinary use (see {@link Zone#unreserve}).
     *
     * @return the pageblocks given back
     */
    public int unreserve() {
        int given = 0;
        for (Zone zone : zones) {
            given += zone.unreserve();
        }
        return given;
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
        if (pfn < 0 || pfn >= managedFrames) {
            throw new IllegalArgumentException("pfn " + pfn + " belongs to no zone");
        }
        return zones[nodeOf(pfn)];
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
