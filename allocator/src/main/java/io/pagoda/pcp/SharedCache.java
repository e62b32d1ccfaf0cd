package io.pagoda.pcp;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A cache shared by the virtual threads whose ids hash to it, so that a million virtual threads
 * use a bounded number of caches. It is guarded by a try-lock, like the kernel's
 * {@code pcp_spin_trylock}: a thread that finds it taken does not wait, it goes to the zone.
 * Drainers wait for the lock instead.
 */
final class SharedCache {

    private static final VarHandle LOCKED;

    static {
        try {
            LOCKED = MethodHandles.lookup().findVarHandle(SharedCache.class, "locked", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final CacheStacks stacks;
    final int index;

    private int locked;
    /** Operations so far, written under the lock: for the reaper's idle check. */
    int operations;

    // The reaper's own view, touched only under the drain lock.
    int reaperOperations;
    long reaperIdleSince;

    SharedCache(CacheStacks stacks, int index) {
        this.stacks = stacks;
        this.index = index;
        this.reaperIdleSince = System.nanoTime();
    }

    /** Takes the lock if it is free; acquire semantics on success. */
    boolean tryLock() {
        return LOCKED.compareAndSet(this, 0, 1);
    }

    /** Takes the lock, waiting for it (drainers only). */
    void lock() {
        for (int spins = 0; !tryLock(); spins++) {
            if (spins < 1_000) {
                Thread.onSpinWait();
            } else {
                Thread.yield(); // the holder may be a virtual thread that was unmounted
            }
        }
    }

    /** Releases the lock, publishing the holder's writes. */
    void unlock() {
        LOCKED.setRelease(this, 0);
    }
}
