package io.pagoda.buddy;

import java.util.List;

import static io.pagoda.region.PageDescriptors.NO_FRAME;

/**
 * A memory node (the kernel's {@code pg_data_t}): a contiguous slice of the region with its own
 * zones, tried in order. Threads will be mapped to nodes as the kernel maps CPUs to NUMA nodes;
 * until then an allocator has one node with one zone.
 */
public final class Node {

    private final int id;
    private final List<Zone> zones;

    public Node(int id, List<Zone> zones) {
        if (zones.isEmpty()) {
            throw new IllegalArgumentException("node " + id + " has no zones");
        }
        this.id = id;
        this.zones = List.copyOf(zones);
    }

    /**
     * Allocates from the first zone that can serve the order; NO_FRAME if none can.
     *
     * @param belowMin whether the memory below the zones' min watermarks may be taken
     */
    public int allocate(int order, int lifetime, boolean belowMin) {
        for (int i = 0; i < zones.size(); i++) {
            int pfn = zones.get(i).allocate(order, lifetime, belowMin);
            if (pfn != NO_FRAME) {
                return pfn;
            }
        }
        return NO_FRAME;
    }

    /** The zone that spans {@code pfn}, or null. */
    public Zone zoneOf(int pfn) {
        for (int i = 0; i < zones.size(); i++) {
            Zone zone = zones.get(i);
            if (zone.contains(pfn)) {
                return zone;
            }
        }
        return null;
    }

    public int id() {
        return id;
    }

    public List<Zone> zones() {
        return zones;
    }
}
