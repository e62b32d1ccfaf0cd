package io.pagoda;

import io.pagoda.buddy.BuddySystem;
import io.pagoda.pcp.CacheSnapshot;
import io.pagoda.slab.ObjectVisitor;
import io.pagoda.slab.SizeClasses;
import io.pagoda.slab.Slabs;
import io.pagoda.stats.SlabInfo;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.BiConsumer;
import java.util.function.IntFunction;
import java.util.function.ToLongFunction;

/**
 * The small-object layer of every node: one {@link Slabs} per node, whose slabs hold blocks of
 * that node's zone only (the kernel's per-node {@code kmem_cache_node}), so that an object comes
 * from a node the allocating thread's memory policy allows, as a block does.
 *
 * <p>An allocation walks the thread's policy as {@link NodeFrames} does: the node it starts at,
 * then, unless bound, the others in distance order, none of them draining any cache (that is the
 * caller's slow path, once every node refused), and none past the first making magazines for
 * the thread (a walk may pass many full nodes). Under INTERLEAVE, objects come from the node
 * whose turn it is, and a new slab passes the turn on, as SLUB interleaves slabs, not objects.
 *
 * <p>A free goes to the slabs of the object's own node, found from its frame, into the freeing
 * thread's magazine there (the kernel's alien caches), whichever node the thread allocates from:
 * an object never changes node.
 */
final class NodeSlabs {

    private final Slabs[] byNode;
    private final BuddySystem buddy;
    private final NodeMap nodeMap;
    private final int pageShift;

    /** @param slabsOf the slabs of a node, cutting their blocks from that node alone */
    NodeSlabs(BuddySystem buddy, NodeMap nodeMap, int pageShift, IntFunction<Slabs> slabsOf) {
        this.buddy = buddy;
        this.nodeMap = nodeMap;
        this.pageShift = pageShift;
        this.byNode = new Slabs[buddy.nodeCount()];
        for (int node = 0; node < byNode.length; node++) {
            byNode[node] = slabsOf.apply(node);
        }
    }

    /** The only node's slabs, or null when there are several: the allocator's shortest way. */
    Slabs sole() {
        return byNode.length == 1 ? byNode[0] : null;
    }

    /** An object of a slab class from the nodes the thread's policy allows; {@link Slabs#NO_OBJECT} if none has one. */
    long allocate(int sizeClass) {
        if (byNode.length == 1) {
            return byNode[0].allocate(sizeClass);
        }
        NodeMap.Binding binding = nodeMap.current();
        int start = binding.turnNode(byNode.length); // under INTERLEAVE, the turn moves only if a slab is made (below)
        int tries = binding.bind() ? 1 : byNode.length;
        long offset = byNode[start].allocate(sizeClass); // a zonelist starts at its own node
        for (int i = 1; i < tries && offset == Slabs.NO_OBJECT; i++) {
            offset = byNode[buddy.zonelistEntry(start, i)].allocateWithoutNewMagazines(sizeClass);
        }
        binding.passTurnIfSlabMade(byNode.length); // one turn however many slabs a refill carved
        return offset;
    }

    /** The slabs of the node whose memory holds the offset. */
    Slabs of(long offset) {
        return byNode.length == 1 ? byNode[0] : byNode[buddy.nodeOf((int) (offset >>> pageShift))];
    }

    /** {@link Slabs#free}, by the slabs of the object's node. */
    int free(long offset, long byteSize) {
        return of(offset).free(offset, byteSize);
    }

    /** {@link Slabs#check}, by the slabs of the object's node. */
    int check(long offset, long byteSize) {
        return of(offset).check(offset, byteSize);
    }

    /** The size classes, the same on every node. */
    SizeClasses classes() {
        return byNode[0].classes();
    }

    /** {@link Slabs#shrink} on every node. */
    void shrink() {
        for (Slabs slabs : byNode) {
            slabs.shrink();
        }
    }

    /** {@link Slabs#reap} on every node. */
    void reap(long now) {
        for (Slabs slabs : byNode) {
            slabs.reap(now);
        }
    }

    /** Bytes of the empty slabs every node keeps. */
    long emptySlabBytes() {
        return sum(Slabs::emptySlabBytes);
    }

    /** Every node's empty slabs back to the page allocator; the bytes given back. */
    long releaseEmptySlabs() {
        return sum(Slabs::releaseEmptySlabs);
    }

    /** Bytes in the objects all magazines of every node hold. */
    long cachedBytes() {
        return sum(Slabs::cachedBytes);
    }

    /** Bytes of the blocks all slabs of every node occupy. */
    long slabBytes() {
        return sum(Slabs::slabBytes);
    }

    /** Bytes of the objects out of the slabs of every node, in magazines or with users. */
    long objectBytesOut() {
        return sum(Slabs::objectBytesOut);
    }

    /** Slabs of a class now, on every node. */
    long slabs(int sizeClass) {
        return sum(slabs -> slabs.slabs(sizeClass));
    }

    /** Empty slabs of a class now, on every node. */
    long emptySlabs(int sizeClass) {
        return sum(slabs -> slabs.emptySlabs(sizeClass));
    }

    /** Objects of a class out of the slabs of every node. */
    long objectsOut(int sizeClass) {
        return sum(slabs -> slabs.objectsOut(sizeClass));
    }

    /** The /proc/slabinfo lines of every slab class, each summed over the nodes. */
    List<SlabInfo.Row> slabinfo() {
        SizeClasses classes = classes();
        Slabs first = byNode[0];
        List<SlabInfo.Row> rows = new ArrayList<>();
        for (int c = 0; c < classes.count(); c++) {
            if (!classes.isSlab(c)) {
                continue;
            }
            Slabs.ClassCounts counts = first.counts(c);
            for (int node = 1; node < byNode.length; node++) {
                counts = counts.plus(byNode[node].counts(c));
            }
            rows.add(new SlabInfo.Row(classes.size(c), counts.objectsOut(), counts.slabs() * classes.objects(c),
                    classes.objects(c), 1 << classes.slabOrder(c), first.magazineHigh(c), first.magazineBatch(c),
                    counts.slabs() - counts.emptySlabs(), counts.slabs()));
        }
        return rows;
    }

    private long sum(ToLongFunction<Slabs> perNode) {
        long sum = 0;
        for (Slabs slabs : byNode) {
            sum += perNode.applyAsLong(slabs);
        }
        return sum;
    }

    /** Each live magazine set's counters, named with its node when there are several. */
    List<CacheSnapshot> snapshots() {
        return NodeFrames.namedByNode(Arrays.stream(byNode).map(Slabs::snapshots).toList());
    }

    /** Runs an audit while no drainer of any node's magazines runs. */
    void whileDrainsPaused(Runnable audit) {
        onEveryNode(0, Slabs::whileDrainsPaused, audit);
    }

    /** Runs an audit while every class lock of every node's slabs is held ({@link Slabs#whileClassesLocked}). */
    void whileClassesLocked(Runnable audit) {
        onEveryNode(0, Slabs::whileClassesLocked, audit);
    }

    /** Runs the audit inside {@code hold} of every node's slabs from {@code node} on, each within the one before. */
    private void onEveryNode(int node, BiConsumer<Slabs, Runnable> hold, Runnable audit) {
        if (node == byNode.length) {
            audit.run();
        } else {
            hold.accept(byNode[node], () -> onEveryNode(node + 1, hold, audit));
        }
    }

    /** Visits every object in every node's magazines. Only at a quiescent point. */
    void forEachCachedObject(ObjectVisitor visitor) {
        for (Slabs slabs : byNode) {
            slabs.forEachCachedObject(visitor);
        }
    }

    /** Visits the head pfn of every slab with a free object, on every node. Only at a quiescent point. */
    void forEachPartialSlab(ObjectVisitor visitor) {
        for (Slabs slabs : byNode) {
            slabs.forEachPartialSlab(visitor);
        }
    }

    /** The object size of the slab at this offset, or 0 if it is in no slab. */
    long objectSizeAt(long offset) {
        return of(offset).objectSizeAt(offset);
    }

    /** Whether the object at this offset carries its node's free marker. */
    boolean isMarkedFree(long offset) {
        return of(offset).isMarkedFree(offset);
    }
}
