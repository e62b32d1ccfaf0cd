package io.pagoda;

/**
 * Thrown when an allocation through a {@link ChildAllocator} would take it, or one of its parents,
 * over its byte limit. Nothing was allocated or charged. The message names the child over its
 * limit, the limit, the bytes in use, and the whole chain of parents with theirs.
 */
public final class LimitExceededException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final String allocator;

    LimitExceededException(String message, String allocator) {
        super(message);
        this.allocator = allocator;
    }

    /** The name of the child allocator whose limit the request would pass. */
    public String allocator() {
        return allocator;
    }
}
