package io.pagoda;

import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Which node each thread allocates from, and with which {@link MemoryPolicy}: the kernel's
 * mempolicy, for threads instead of CPUs.
 *
 * <p>A thread's binding is made at its first allocation: its thread group's node if the group
 * (or a parent of it) is bound, else the next node in turn, so that unbound threads spread evenly;
 * it changes only when the thread binds itself. Each thread reads and writes only its own binding.
 */
final class NodeMap {

    /** One thread's node and policy; touched by its own thread only. */
    static final class Binding {
        /** The owner's {@link Thread#threadId()}: unique for the life of the JVM, and no reference that keeps a dead thread. */
        private final long threadId;
        private int node;
        private MemoryPolicy policy;
        /** Allocations made under INTERLEAVE: the offset of the next node from the thread's own. */
        private int interleaved;

        Binding(long threadId, int node, MemoryPolicy policy) {
            this.threadId = threadId;
            this.node = node;
            this.policy = policy;
        }

        /** The node the next allocation starts at; under INTERLEAVE, the turn passes on to the next node. */
        int startNode(int nodes) {
            int start = turnNode(nodes);
            passTurn(nodes);
            return start;
        }

        /**
         * The node whose turn it is, the turn staying there: a small object comes from it, and
         * only a new slab passes the turn on ({@link #passTurn}), as SLUB interleaves its slabs'
         * pages, not its objects. The thread's own node under any other policy.
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

        boolean bind() {
            return policy == MemoryPolicy.BIND;
        }

        int node() {
            return node;
        }
    }

    private final int nodes;
    private final AtomicInteger turn = new AtomicInteger();
    private final Map<ThreadGroup, Integer> groups = new ConcurrentHashMap<>();
    private final ThreadLocal<Binding> bindings = ThreadLocal.withInitial(this::firstBinding);
    /**
     * The bindings by thread id, direct-mapped: slot {@code threadId & (length - 1)}, held by the
     * last thread whose binding was made there. Every allocation with several nodes looks its
     * thread's binding up: a hit is a few independent loads where the {@link ThreadLocal} is a
     * longer chain of dependent ones; a miss (a slot another thread holds) falls back on the
     * ThreadLocal. Written and read through a race: a binding seen is fully built (its thread id
     * is final), and a thread uses no binding but its own.
     */
    private final Binding[] byThreadId;

    NodeMap(int nodes) {
        this.nodes = nodes;
        this.byThreadId = new Binding[Integer.highestOneBit(Math.max(16, 8 * Runtime.getRuntime().availableProcessors() - 1)) << 1];
    }

    /** The current thread's binding, made now if this is its first allocation. */
    Binding current() {
        long threadId = Thread.currentThread().threadId();
        Binding binding = byThreadId[(int) threadId & (byThreadId.length - 1)];
        return binding != null && binding.threadId == threadId ? binding : bindings.get();
    }

    private Binding firstBinding() {
        Thread thread = Thread.currentThread();
        Binding binding = new Binding(thread.threadId(), groupNode(thread), MemoryPolicy.LOCAL_PREFERRED);
        byThreadId[(int) binding.threadId & (byThreadId.length - 1)] = binding;
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
        Binding previous = new Binding(binding.threadId, binding.node, binding.policy);
        binding.node = node;
        binding.policy = policy;
        binding.interleaved = 0;
        return previous;
    }

    /** Puts back a binding {@link #bindCurrentThread} returned. */
    void restore(Binding previous) {
        bindCurrentThread(previous.node, previous.policy);
    }

    private int checkNode(int node) {
        if (node < 0 || node >= nodes) {
            throw new IllegalArgumentException("node " + node + " is outside [0, " + nodes + ")");
        }
        return node;
    }
}
