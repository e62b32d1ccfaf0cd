package io.pagoda.slab;

/** Receives an object's offset in the region and its size class; for audits. */
@FunctionalInterface
public interface ObjectVisitor {

    void visit(long offset, int sizeClass);
}
