package io.pagoda;

import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.WeakHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Which node each thread allocates from, and with which {@link MemoryPolicy}: the kernel's
 * mempolicy, for threads instead of CPUs.
 *
 * <p>A thread's binding is made at its first allocation: its thread group's node if the group
 * (or a parent of it) is bound, else the next node in turn, so that unbound threads spread evenly;
 * it changes only when the thread binds itself. Each thread reads and writes only its own binding.
 *
 * <p>The binding is kept in a slot of a table by thread id when the slot is free (or held by a
 * dead thread's), else in a {@link ThreadLocal}. A slot is never taken from a live thread, so a
 * thread finds its binding in one place all its life: in its slot it outlives a pool's wiping of
 * its thread locals; in a ThreadLocal, as any, it does not.
 */
final class NodeMap {

    /** One thread's node and policy; touched by its own thread only. */
    static final class Binding {
        private final Thread owner;
        private int node;
        private MemoryPolicy policy;
        /** Allocations made under INTERLEAVE: the offset of the next node from the thread's own. */
        private int interleaved;
        /** Under INTERLEAVE, whether the small-object allocation under way made a new slab. */
        private boolean slabMade;

        Binding(Thread owner, int node, MemoryPolicy policy) {
            this.owner = owner;
            this.node = node;
            this.policy = policy;
        }

        /**
         * The node an allocation starts at: under INTERLEAVE, the node whose turn it is, the turn
         * staying there until a block is handed out ({@link #passTurn}): so an allocation that
         * fails and is tried again takes one turn, and small objects, whose turn only a new slab
         * passes on, come from one node a slab at a time, as SLUB interleaves its slabs' pages,
         * not its objects. The thread's own node under any other policy.
         */
        int turnNode(int nodes) {
            return policy != MemoryPolicy.INTERLEAVE ? node : (node + interleaved) % nodes;
        }

        /** Under INTERLEAVE, passes the turn on to the next node. */
        void passTurn(int nodes) {
            if (policy == MemoryPolicy.INTERLEAVE) {
                interleaved = (interleaved + 1) % nodes; // an int counted on for ever would go negative
            }
        }

        /** Under INTERLEAVE, notes a new slab: the allocation under way passes the turn once ({@link #passTurnIfSlabMade}). */
        void slabMade() {
            if (policy == MemoryPolicy.INTERLEAVE) {
                slabMade = true;
            }
        }

        /**
         * Passes the turn on once if the small-object allocation that ends made any new slab: a
         * magazine refill may carve several slabs, all on the turn's node, for one turn.
         */
        void passTurnIfSlabMade(int nodes) {
            if (slabMade) {
                slabMade = false;
                passTurn(nodes);
            }
        }

        boolean bind() {
            return policy == MemoryPolicy.BIND;
        }

        int node() {
            return node;
        }
    }

    private final int nodes;
    private final AtomicInteger turn = new AtomicInteger();
    /** Bound groups, weakly: a group no thread or caller holds any more is forgotten. Read at first bindings only. */
    private final Map<ThreadGroup, Integer> groups = Collections.synchronizedMap(new WeakHashMap<>());
    private final ThreadLocal<Binding> bindings = ThreadLocal.withInitial(this::firstBinding);
    /**
     * The bindings by thread id, direct-mapped: slot {@code threadId & (length - 1)}. Every
     * allocation with several nodes looks its thread's binding up: a hit is a few independent
     * loads where the {@link ThreadLocal} is a longer chain of dependent ones; a miss (a slot
     * another thread holds) falls back on the ThreadLocal. Written under its own lock, once per
     * thread, and read through a race: a binding seen is fully built (its owner is final), and a
     * thread uses no binding but its own. A dead thread's binding stays until its slot is taken or
     * the reaper empties it ({@link #forgetDeadThreads}), as the page caches' table's do.
     */
    private final Binding[] byThreadId;

    NodeMap(int nodes) {
        this.nodes = nodes;
        this.byThreadId = new Binding[Integer.highestOneBit(Math.max(16, 8 * Runtime.getRuntime().availableProcessors() - 1)) << 1];
    }

    /** The current thread's binding, made now if this is its first allocation. */
    Binding current() {
        Thread thread = Thread.currentThread();
        Binding binding = byThreadId[slot(thread)];
        return binding != null && binding.owner == thread ? binding : bindings.get();
    }

    private int slot(Thread thread) {
        return (int) thread.threadId() & (byThreadId.length - 1);
    }

    private Binding firstBinding() {
        Thread thread = Thread.currentThread();
        Binding binding = new Binding(thread, groupNode(thread), MemoryPolicy.LOCAL_PREFERRED);
        int slot = slot(thread);
        synchronized (byThreadId) {
            Binding occupant = byThreadId[slot];
            if (occupant == null || !occupant.owner.isAlive()) {
                byThreadId[slot] = binding;
            }
        }
        return binding;
    }

    /** The node of the thread's group (or a parent group) if one is bound, else the next node in turn. */
    private int groupNode(Thread thread) {
        for (ThreadGroup group = thread.getThreadGroup(); group != null; group = group.getParent()) {
            Integer node = groups.get(group);
            if (node != null) {
                return node;
            }
        }
        return Math.floorMod(turn.getAndIncrement(), nodes);
    }

    /** Threads of {@code group} and of its subgroups that have not allocated yet will prefer {@code node}. */
    void bindThreadGroup(ThreadGroup group, int node) {
        groups.put(Objects.requireNonNull(group, "group"), checkNode(node));
    }

    /** Binds the current thread; returns what it was bound to before, as a new binding. */
    Binding bindCurrentThread(int node, MemoryPolicy policy) {
        Objects.requireNonNull(policy, "policy");
        checkNode(node);
        Binding binding = current();
        Binding previous = new Binding(binding.owner, binding.node, binding.policy);
        previous.interleaved = binding.interleaved;
        binding.node = node;
        binding.policy = policy;
        binding.interleaved = 0;
        binding.slabMade = false;
        return previous;
    }

    /** Puts back a binding {@link #bindCurrentThread} returned, its INTERLEAVE turn included. */
    void restore(Binding previous) {
        Binding binding = current();
        binding.node = previous.node;
        binding.policy = previous.policy;
        binding.interleaved = previous.interleaved;
        binding.slabMade = false;
    }

    /**
     * Empties the slots of dead threads, as the page caches' reaper retires their caches: a dead
     * thread holds its context class loader, its task and its group. A live thread's slot is
     * never emptied, so a racy reader sees its own binding or another's, never loses its own.
     */
    void forgetDeadThreads() {
        synchronized (byThreadId) {
            for (int slot = 0; slot < byThreadId.length; slot++) {
                Binding occupant = byThreadId[slot];
                if (occupant != null && !occupant.owner.isAlive()) {
                    byThreadId[slot] = null;
                }
            }
        }
    }

    private int checkNode(int node) {
        if (node < 0 || node >= nodes) {
            throw new IllegalArgumentException("node " + node + " is outside [0, " + nodes + ")");
        }
        return node;
    }
}
