package io.pagoda;

/**
 * Where a thread's allocations go among the allocator's nodes: the kernel's memory policies
 * ({@code set_mempolicy}). A thread's own node is the one it is bound to
 * ({@link PageAllocator#bindCurrentThread}, {@link PageAllocator#runOnNode}), or its thread
 * group's ({@link PageAllocator#bindThreadGroup}), or else one given to it in turn at its first
 * allocation.
 */
public enum MemoryPolicy {

    /** The thread's node first, then the others, nearest first (the kernel's default, MPOL_LOCAL). */
    LOCAL_PREFERRED,
    /** The thread's node only: fail rather than take another node's memory (MPOL_BIND). */
    BIND,
    /**
     * Each allocation starts on the next node in turn, from the thread's own (MPOL_INTERLEAVE):
     * spreads a large table evenly over every node.
     */
    INTERLEAVE
}
