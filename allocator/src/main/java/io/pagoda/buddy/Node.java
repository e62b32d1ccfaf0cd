package io.pagoda.buddy;

import java.util.List;

/**
 * A memory node (the kernel's {@code pg_data_t}): a contiguous slice of the region with its own
 * zones. Threads are mapped to nodes as the kernel maps CPUs to NUMA nodes; today a node has one
 * zone, Normal.
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

    public int id() {
        return id;
    }

    public List<Zone> zones() {
        return zones;
    }
}
