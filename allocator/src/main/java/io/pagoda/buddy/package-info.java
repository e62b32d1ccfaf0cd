/**
 * The buddy core: free lists per order and lifetime type, zones and nodes (the kernel's
 * {@code free_area}, {@code struct zone} and {@code pg_data_t}).
 *
 * <h2>Glossary</h2>
 * <dl>
 *   <dt>frame, pfn</dt><dd>a page-sized unit of the region and its number, counted from the base</dd>
 *   <dt>order</dt><dd>log2 of a block's size in frames: an order-k block is 2^k frames</dd>
 *   <dt>block</dt><dd>2^order contiguous frames starting at a multiple of 2^order; its first frame is its head</dd>
 *   <dt>buddy</dt><dd>the other half of the order+1 block a block belongs to: {@code pfn ^ (1 << order)}</dd>
 *   <dt>free list, free area</dt><dd>the free blocks of one order (and lifetime type) in a zone</dd>
 *   <dt>expand</dt><dd>split a larger block down to the order asked for, returning the halves to the lists</dd>
 *   <dt>zone</dt><dd>a range of frames with its own free lists and one lock</dd>
 *   <dt>node</dt><dd>a slice of the region with its own zones, local to a group of threads</dd>
 *   <dt>lifetime type</dt><dd>the kernel's migrate type: blocks that live and die alike are kept together</dd>
 * </dl>
 *
 * <p>Depends only on {@code io.pagoda.region}. Locks: each zone's own lock, never two at a time.
 * Results are pfns and sentinels; exceptions for the user are made by the API layer.
 */
package io.pagoda.buddy;
