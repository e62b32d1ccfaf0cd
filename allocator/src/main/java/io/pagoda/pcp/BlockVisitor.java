package io.pagoda.pcp;

/** Visits a block held in a cache: its head pfn and order. */
@FunctionalInterface
public interface BlockVisitor {
    void visit(int pfn, int order);
}
