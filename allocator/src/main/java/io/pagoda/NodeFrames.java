package io.pagoda;

import io.pagoda.buddy.BuddySystem;
import io.pagoda.buddy.Lifetimes;
import io.pagoda.buddy.Zone;
import io.pagoda.pcp.CacheSnapshot;
import io.pagoda.pcp.ThreadCaches;

import java.util.ArrayList;
import java.util.List;

import static io.pagoda.region.PageDescriptors.NO_FRAME;

/**
 * Blocks of frames across the nodes: each node's per-thread caches in front of its zone, and the
 * thread's {@link MemoryPolicy} choosing where to start and whether to go on to the other nodes
 * along the zonelist (the kernel's {@code get_page_from_freelist} over a zonelist).
 *
 * <p>With one node, which is the default, nothing here looks at the thread: the fast path is the
 * cache's alone. A block is freed into the caches of the node whose slice holds it, whichever
 * thread frees it, so that each node's caches only ever hold the node's own memory.
 */
final class NodeFrames {

    private static final int SHORT_LIVED = Lifetimes.SHORT_LIVED;

    private final BuddySystem buddy;
    private final int nodes;
    private final NodeMap nodeMap;
    /** Each node's caches, by node; null when the caches are off. */
    private final ThreadCaches[] caches;
    /** Orders below this go through the caches; 0 when there are none. */
    private final int cachedOrders;

    NodeFrames(BuddySystem buddy, int cachedOrders, int cacheBatch, int cacheHigh, long idleNanos) {
        this.buddy = buddy;
        this.nodes = buddy.nodeCount();
        this.nodeMap = new NodeMap(nodes);
        if (cachedOrders > 0) {
            this.caches = new ThreadCaches[nodes];
            for (int node = 0; node < nodes; node++) {
                caches[node] = new ThreadCaches(buddy.zone(node), Math.min(cachedOrders, buddy.maxOrder() + 1),
                        cacheBatch, cacheHigh, idleNanos);
            }
            this.cachedOrders = caches[0].cachedOrders();
        } else {
            this.caches = null;
            this.cachedOrders = 0;
        }
    }

    /**
     * A block of 2^order frames: short-lived blocks of cached orders from the thread's cache on
     * its node, the others from the zones, along the thread's zonelist as its policy allows.
     *
     * @param belowMin whether the memory below the min watermarks may be taken (which the caches
     *                 never do: their refills stop at min)
     * @return the head pfn, or NO_FRAME
     */
    int allocate(int order, int lifetime, boolean belowMin) {
        if (order < cachedOrders && lifetime == SHORT_LIVED && !belowMin) {
            return allocateCached(order);
        }
        if (nodes == 1) {
            return buddy.allocate(0, true, order, lifetime, belowMin);
        }
        NodeMap.Binding binding = nodeMap.current();
        int pfn = buddy.allocate(binding.turnNode(nodes), binding.bind(), order, lifetime, belowMin);
        if (pfn != NO_FRAME) {
            binding.passTurn(nodes); // under INTERLEAVE, one turn per block handed out, not per try
        }
        return pfn;
    }

    /**
     * A short-lived block of a cached order (below {@link #cachedOrders()}) from the thread's
     * cache on its node, then, as its policy allows, on the others along its zonelist.
     *
     * @return the head pfn, or NO_FRAME if those caches and their zones have none above min
     */
    int allocateCached(int order) {
        if (nodes == 1) {
            return caches[0].allocate(order);
        }
        NodeMap.Binding binding = nodeMap.current();
        int start = binding.turnNode(nodes);
        int pfn = caches[start].allocate(order); // a zonelist starts at its own node
        int tries = binding.bind() ? 1 : nodes;
        for (int i = 1; i < tries && pfn == NO_FRAME; i++) {
            pfn = caches[buddy.zonelistEntry(start, i)].allocate(order);
        }
        if (pfn != NO_FRAME) {
            binding.passTurn(nodes); // a try that failed (the short way's, before the long way's) takes no turn
        }
        return pfn;
    }

    /** Orders below this go through the caches; 0 when the caches are off. */
    int cachedOrders() {
        return cachedOrders;
    }

    /** The caches of the node that holds {@code pfn}; null when the caches are off. */
    ThreadCaches cachesOf(int pfn) {
        return caches == null ? null : caches[nodes == 1 ? 0 : buddy.nodeOf(pfn)];
    }

    /** Under INTERLEAVE, notes a new slab: the small-object allocation under way passes the turn once ({@link NodeSlabs}). */
    void noteNewSlab() {
        if (nodes > 1) {
            nodeMap.current().slabMade();
        }
    }

    /** A block of a type the caches do not hold, from {@code node} alone, whatever the thread's policy. */
    int allocateOn(int node, int order, int lifetime, boolean belowMin) {
        return buddy.allocate(node, true, order, lifetime, belowMin);
    }

    /**
     * Frees a block: into the caches of its node for cached orders, else to its zone.
     *
     * @return {@link Zone#FREED}, or the info word found when it was not an allocated block of that order
     */
    int free(int pfn, int order) {
        if (order >= cachedOrders) {
            return buddy.free(pfn, order);
        }
        return caches[nodes == 1 ? 0 : buddy.nodeOf(pfn)].free(pfn, order);
    }

    /** The node the current thread allocates from first (for INTERLEAVE, the one it is bound to). */
    int currentNode() {
        return nodes == 1 ? 0 : nodeMap.current().node();
    }

    NodeMap nodeMap() {
        return nodeMap;
    }

    /** Every cache of every node back to its zone. */
    void drainAll() {
        if (caches != null) {
            for (ThreadCaches nodeCaches : caches) {
                nodeCaches.drainAll();
            }
        }
    }

    void reap(long now) {
        if (nodes > 1) {
            nodeMap.forgetDeadThreads();
        }
        if (caches != null) {
            for (ThreadCaches nodeCaches : caches) {
                nodeCaches.reap(now);
            }
        }
    }

    long cachedFrames() {
        long frames = 0;
        for (ThreadCaches nodeCaches : caches()) {
            frames += nodeCaches.cachedFrames();
        }
        return frames;
    }

    /** The counters summed over every cache of every node, live and retired. */
    CacheSnapshot total() {
        CacheSnapshot total = new CacheSnapshot("total", 0, 0, 0, 0, 0, 0);
        for (ThreadCaches nodeCaches : caches()) {
            total = total.plus(nodeCaches.total());
        }
        return total;
    }

    /** Each live cache's counters, node by node; with several nodes, each name says its node. */
    List<CacheSnapshot> snapshots() {
        return namedByNode(caches().stream().map(ThreadCaches::snapshots).toList());
    }

    /**
     * Each node's cache snapshots in one list; with several nodes, each name says its node (a
     * thread has a cache on each node it used), for the page caches and the magazines alike.
     */
    static List<CacheSnapshot> namedByNode(List<List<CacheSnapshot>> byNode) {
        List<CacheSnapshot> all = new ArrayList<>();
        for (int node = 0; node < byNode.size(); node++) {
            for (CacheSnapshot snapshot : byNode.get(node)) {
                all.add(byNode.size() == 1 ? snapshot : snapshot.named(snapshot.name() + " (node " + node + ")"));
            }
        }
        return all;
    }

    /** Each node's caches, by node; empty when the caches are off. */
    List<ThreadCaches> caches() {
        return caches == null ? List.of() : List.of(caches);
    }
}
