package io.pagoda.pcp;

import io.pagoda.region.AsymmetricFence;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.ToLongFunction;

/**
 * The per-thread caches of one kind (the page stacks in front of a zone, the object magazines in
 * front of the slabs): which cache is the calling thread's, and how other threads take back what
 * the caches hold. The layer that owns the caches decides what they hold (its subclass of
 * {@link OwnedCache}, {@code S}) and what giving it back means ({@link Keeper}); the registry keeps
 * the threads, the protocol and the counters.
 *
 * <h2>Finding the thread's cache</h2>
 * A platform thread owns a cache, used without lock or CAS ({@link OwnedCache}), found through a
 * direct-mapped table by thread id (the fast path: {@link #tabledCache}) or else a
 * {@link ThreadLocal} that registers it on first use ({@link #ownedCache}). Virtual threads share
 * a fixed set of {@link SharedCache} stripes (twice the processors, rounded up to a power of
 * two), chosen by thread id, each guarded by a try-lock: a million virtual threads use a bounded
 * number of caches.
 *
 * <h2>Getting things back</h2>
 * {@link #drainAllLocked()} (the kernel's {@code drain_all_pages}) empties every cache, including
 * the caches of threads that are blocked or idle forever, through the protocol of
 * {@link OwnedCache}. {@link #reapLocked} returns the caches of dead threads and empties those idle
 * for longer than the idle timeout; a {@link CacheReaper} calls it periodically. Drainers take
 * turns under one drain lock, never held by an owner inside an operation.
 */
public final class CacheRegistry<S extends OwnedCache> {

    /** What a layer tells the registry about what its caches hold. */
    public interface Keeper<S extends OwnedCache> {

        /** A new, empty cache owned by {@code owner}; with no owner (null), a shared stripe's contents. */
        S newCache(Thread owner);

        /** Gives back everything the stacks hold to the layer below. The caller holds the stacks. */
        void empty(S stacks);

        /** Whether the stacks hold anything; read racily, a hint for the reaper. */
        boolean holdsAny(S stacks);

        /** The stacks' counters, under a name. */
        CacheSnapshot snapshot(String name, S stacks);
    }

    /**
     * How long a drainer waits for an owner to leave an operation before it leaves that cache
     * alone: far longer than any operation (a lock wait included), so only a cache whose
     * operation an Error cut short is ever skipped.
     */
    private static final long DRAIN_PATIENCE_NANOS = 100_000_000L;

    private final Keeper<S> keeper;
    private final long idleNanos;
    private final ThreadLocal<S> local;
    private final SharedCache<S>[] shared;
    private final CopyOnWriteArrayList<S> owned = new CopyOnWriteArrayList<>();
    /**
     * The owned caches by thread id, direct-mapped: slot {@code threadId & (length - 1)}. A hit is
     * a few independent loads where a {@link ThreadLocal} lookup is a chain of dependent ones (a
     * third of the page fast path's time); a miss (an empty slot, or one held by another thread)
     * falls back on the ThreadLocal. Written under {@link #registryLock}, read through a race: a
     * stale table, or a slot not yet seen, only sends the lookup to the ThreadLocal, and the fields
     * of a cache that the lookup reads are final, so a cache seen is a cache fully built.
     */
    private volatile S[] byThreadId = newTable(16);
    private final Object registryLock = new Object();
    private final ReentrantLock drainLock = new ReentrantLock();
    /** Counters of the caches of dead threads, folded in when they are retired. Guarded by drainLock. */
    private CacheSnapshot retired = CacheSnapshot.zero("retired");

    /** @param idleNanos how long a cache may sit unused before {@link #reapLocked} empties it */
    public CacheRegistry(Keeper<S> keeper, long idleNanos) {
        this.keeper = keeper;
        this.idleNanos = idleNanos;
        this.local = ThreadLocal.withInitial(this::register);
        int stripes = Integer.highestOneBit(Math.max(1, 2 * Runtime.getRuntime().availableProcessors() - 1)) << 1;
        @SuppressWarnings("unchecked")
        SharedCache<S>[] stripesArray = (SharedCache<S>[]) new SharedCache<?>[stripes];
        for (int i = 0; i < stripes; i++) {
            stripesArray[i] = new SharedCache<>(() -> keeper.newCache(null), i);
        }
        this.shared = stripesArray;
    }

    @SuppressWarnings("unchecked")
    private static <S extends OwnedCache> S[] newTable(int length) {
        return (S[]) new OwnedCache[length];
    }

    /**
     * The platform thread's cache if the thread-id table has it, else null (a virtual thread, which
     * owns no cache; a thread not yet registered; one whose slot another thread holds). The fast
     * path's lookup: a handful of loads, small enough to inline.
     */
    public S tabledCache(Thread thread) {
        S[] table = byThreadId;
        S cache = table[(int) thread.threadId() & (table.length - 1)];
        return cache != null && cache.owner == thread ? cache : null;
    }

    /** The calling platform thread's cache, registered on first use. */
    public S ownedCache() {
        return local.get();
    }

    /** The stripe a virtual thread shares. */
    public SharedCache<S> sharedCache(Thread thread) {
        // Fibonacci hashing spreads consecutive thread ids over the stripes.
        return shared[(int) ((thread.threadId() * 0x9E3779B97F4A7C15L) >>> 40) & (shared.length - 1)];
    }

    private S register() {
        Thread thread = Thread.currentThread();
        // A thread whose thread locals were wiped (pools do that between tasks) keeps its cache.
        for (S existing : owned) {
            if (existing.owner == thread) {
                return existing;
            }
        }
        S cache = keeper.newCache(thread);
        synchronized (registryLock) {
            owned.add(cache);
            S[] table = byThreadId;
            if (owned.size() > table.length / 2) {
                table = newTable(table.length * 2);
                for (S live : owned) {
                    install(table, live);
                }
                byThreadId = table;
            } else {
                install(table, cache);
            }
        }
        return cache;
    }

    /** Puts a cache in its slot unless a live thread's cache holds it. Under registryLock. */
    private static <S extends OwnedCache> void install(S[] table, S cache) {
        int slot = (int) cache.owner.threadId() & (table.length - 1);
        S occupant = table[slot];
        if (occupant == null || !occupant.owner.isAlive()) {
            table[slot] = cache;
        }
    }

    /**
     * Runs {@code action} while no other drainer (reaper, trim, drainAll) runs. The owner's layer
     * uses it to drain what it keeps beside the caches (a depot); tests use it to audit.
     */
    public void whileDrainsPaused(Runnable action) {
        drainLock.lock();
        try {
            action.run();
        } finally {
            drainLock.unlock();
        }
    }

    /**
     * The kernel's {@code drain_all_pages}: empties every cache, the caller's own included, whether
     * its owner is running, blocked, idle or dead. Inside {@link #whileDrainsPaused}, and never
     * from inside an operation on a cache of this registry.
     */
    public void drainAllLocked() {
        assert drainLock.isHeldByCurrentThread();
        drainOwnedLocked(List.copyOf(owned)); // one set for both of its passes
        for (SharedCache<S> cache : shared) {
            if (cache.madeStacks() == null) {
                continue; // never used, so empty; one made meanwhile is a race any drain may lose
            }
            cache.lock();
            try {
                keeper.empty(cache.stacks());
            } finally {
                cache.unlock();
            }
        }
    }

    /** Drains the given owned caches under the protocol: one heavy fence for all of them. */
    private void drainOwnedLocked(List<S> caches) {
        for (S cache : caches) {
            cache.requestDrain();
        }
        AsymmetricFence.heavy();
        for (S cache : caches) {
            if (!cache.owner.isAlive()) {
                retireLocked(cache); // dead: isAlive() ordered its writes before ours
                continue;
            }
            try {
                if (cache.awaitQuiescent(DRAIN_PATIENCE_NANOS)) {
                    keeper.empty(cache);
                }
            } finally {
                cache.releaseDrain(); // whatever happened, the owner gets its cache back
            }
        }
    }

    private void retireLocked(S cache) {
        keeper.empty(cache);
        synchronized (registryLock) {
            owned.remove(cache);
            S[] table = byThreadId;
            int slot = (int) cache.owner.threadId() & (table.length - 1);
            if (table[slot] == cache) {
                table[slot] = null;
            }
        }
        retired = retired.plus(keeper.snapshot("retired", cache));
    }

    /**
     * Housekeeping, inside {@link #whileDrainsPaused}: returns the caches of threads that have
     * died, and empties caches unused for longer than the idle timeout.
     *
     * @param now the current {@link System#nanoTime()}
     */
    public void reapLocked(long now) {
        assert drainLock.isHeldByCurrentThread();
        List<S> idle = new ArrayList<>();
        for (S cache : owned) {
            if (!cache.owner.isAlive()) {
                retireLocked(cache);
                continue;
            }
            long operations = cache.operations(); // read racily: a hint that the owner was active
            if (operations != cache.reaperOperations) {
                cache.reaperOperations = operations;
                cache.reaperIdleSince = now;
            } else if (now - cache.reaperIdleSince >= idleNanos && keeper.holdsAny(cache)) {
                idle.add(cache); // read racily: only a hint of work to do
            }
        }
        if (!idle.isEmpty()) {
            drainOwnedLocked(idle);
        }
        for (SharedCache<S> cache : shared) {
            int operations = cache.operations; // racy read: a hint, as above
            if (operations != cache.reaperOperations) {
                cache.reaperOperations = operations;
                cache.reaperIdleSince = now;
            } else if (now - cache.reaperIdleSince >= idleNanos && cache.madeStacks() != null && cache.tryLock()) {
                try {
                    keeper.empty(cache.stacks());
                } finally {
                    cache.unlock();
                }
            }
        }
    }

    /** Sums a measure over every live cache: racy while threads run, exact at quiescent points. */
    public long sum(ToLongFunction<S> measure) {
        long sum = 0;
        for (S cache : owned) {
            sum += measure.applyAsLong(cache);
        }
        for (SharedCache<S> cache : shared) {
            S stacks = cache.madeStacks();
            sum += stacks == null ? 0 : measure.applyAsLong(stacks);
        }
        return sum;
    }

    /** Each live cache's counters: the owner thread's name, or "shared-N" for a stripe used at least once. */
    public List<CacheSnapshot> snapshots() {
        List<CacheSnapshot> snapshots = new ArrayList<>();
        for (S cache : owned) {
            snapshots.add(keeper.snapshot(cache.owner.getName(), cache));
        }
        for (SharedCache<S> cache : shared) {
            S stacks = cache.madeStacks();
            if (stacks != null) {
                snapshots.add(keeper.snapshot("shared-" + cache.index, stacks));
            }
        }
        return snapshots;
    }

    /** The sum over all caches, live and retired, named "total". */
    public CacheSnapshot total() {
        drainLock.lock();
        try {
            CacheSnapshot total = CacheSnapshot.zero("total").plus(retired);
            for (CacheSnapshot snapshot : snapshots()) {
                total = total.plus(snapshot);
            }
            return total;
        } finally {
            drainLock.unlock();
        }
    }

    /** Visits what every live cache holds. Only at a quiescent point (no thread inside an operation). */
    public void forEach(Consumer<S> visitor) {
        for (S cache : owned) {
            visitor.accept(cache);
        }
        for (SharedCache<S> cache : shared) {
            S stacks = cache.madeStacks();
            if (stacks != null) {
                visitor.accept(stacks);
            }
        }
    }
}
