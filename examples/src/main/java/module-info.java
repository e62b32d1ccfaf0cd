/** Runnable programs that use Pagoda through its exported API only. */
module io.pagoda.examples {
    requires io.pagoda;
    // The server showdown.
    requires io.pagoda.netty;
    requires io.netty.buffer;
    requires io.netty.codec.http;
    requires io.netty.common;
    requires io.netty.transport;
    requires java.management; // the database example reads the collectors' counts and times
}
