package io.pagoda.pcp;

import java.util.concurrent.locks.ReentrantLock;

/**
 * Full batches of cached blocks, shared by all the caches of a zone: the depot of Bonwick's
 * magazine allocator. A cache above its high mark leaves its coldest batch here instead of in the
 * zone; a cache that runs empty takes a whole batch from here before it asks the zone.
 *
 * <p>This is what makes cross-thread frees cheap in steady state: when one thread allocates and
 * another frees (an I/O thread and a worker), the freer's batches go to the allocator through the
 * depot, one lock acquisition and one copy per batch, instead of being merged into the zone's
 * free lists by one thread and split out of them again by the other.
 *
 * <p>Bounded: at most {@code capacity} batches per order; past that, batches go to the zone.
 * Blocks here are CACHED, like those in a cache, and counted as cached. One lock per order, held
 * for a copy of one batch; never held while another lock is taken.
 */
final class Depot {

    private final int[] batch;
    private final int capacity;
    private final int[][] slots;
    private final int[] full;
    private final ReentrantLock[] locks;
    /** Offers and takes so far, written under the locks: for the reaper's idle check. */
    int operations;

    // The reaper's own view, touched only under the drain lock.
    int reaperOperations;
    long reaperIdleSince = System.nanoTime();

    /**
     * @param batch    blocks per batch, per order
     * @param capacity batches kept per order
     */
    Depot(int[] batch, int capacity) {
        this.batch = batch.clone();
        this.capacity = capacity;
        this.slots = new int[batch.length][];
        this.full = new int[batch.length];
        this.locks = new ReentrantLock[batch.length];
        for (int order = 0; order < batch.length; order++) {
            slots[order] = new int[capacity * batch[order]];
            locks[order] = new ReentrantLock();
        }
    }

    /** Keeps {@code blocks[0 .. batch)} if there is room; false if the depot is full for that order. */
    boolean offer(int order, int[] blocks) {
        int n = batch[order];
        ReentrantLock lock = locks[order];
        lock.lock();
        try {
            if (full[order] == capacity) {
                return false;
            }
            System.arraycopy(blocks, 0, slots[order], full[order] * n, n);
            full[order]++;
            operations++;
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Moves one full batch into {@code into[0 .. batch)}; returns its size, or 0 if there is none. */
    int take(int order, int[] into) {
        int n = batch[order];
        ReentrantLock lock = locks[order];
        lock.lock();
        try {
            if (full[order] == 0) {
                return 0;
            }
            full[order]--;
            System.arraycopy(slots[order], full[order] * n, into, 0, n);
            operations++;
            return n;
        } finally {
            lock.unlock();
        }
    }

    /** Frames in the batches held: racy while threads run, exact at quiescent points. */
    long framesHeld() {
        long frames = 0;
        for (int order = 0; order < full.length; order++) {
            frames += (long) full[order] * batch[order] << order;
        }
        return frames;
    }

    int orders() {
        return full.length;
    }

    /** Visits every block held. Only at a quiescent point. */
    void forEach(BlockVisitor visitor) {
        for (int order = 0; order < full.length; order++) {
            for (int i = 0; i < full[order] * batch[order]; i++) {
                visitor.visit(slots[order][i], order);
            }
        }
    }
}
