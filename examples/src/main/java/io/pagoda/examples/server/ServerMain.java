package io.pagoda.examples.server;

import io.pagoda.PageAllocator;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Map;

/**
 * Runs one server variant on the loopback interface until its standard input ends: the process
 * {@link ServerShowdown} starts for each variant, and a way to try a server by hand.
 *
 * <pre>
 * --variant   netty-pagoda | netty-pooled | netty-adaptive | nio-pagoda | nio-direct  (netty-pagoda)
 * --port      0 for one the system chooses                                            (0)
 * --body      bytes of each response body                                             (1024)
 * --threads   event loops serving the connections                                     (processors)
 * </pre>
 *
 * <p>It prints {@value #LISTENING} and the port once it accepts connections. Ending on standard
 * input's end (Ctrl-D, or the parent process closing the pipe or dying) means a server started by
 * the showdown never outlives it.
 */
public final class ServerMain {

    /** The line's start that tells the port, read by {@link ServerShowdown}. */
    static final String LISTENING = "listening on 127.0.0.1:";

    /** Address space only: {@code MAP_NORESERVE} makes it cost nothing until touched. */
    private static final long PAGODA_CAPACITY = 4L << 30;

    private ServerMain() {
    }

    public static void main(String[] args) throws IOException {
        Options options = Options.parse(args, Map.of(
                "variant", Variant.NETTY_PAGODA.label(),
                "port", "0",
                "body", "1024",
                "threads", Integer.toString(Runtime.getRuntime().availableProcessors())));
        Variant variant = Variant.of(options.string("variant"));
        InetSocketAddress address = new InetSocketAddress(InetAddress.getLoopbackAddress(), options.integer("port", 0));

        PageAllocator pages = variant.usesPagoda() ? PageAllocator.builder().capacity(PAGODA_CAPACITY).build() : null;
        try (HttpServer server = variant.start(address, pages, options.integer("body", 0), options.integer("threads", 1))) {
            System.out.println(LISTENING + server.port() + " (" + variant.label() + ")");
            System.out.flush();
            drain(System.in);
        } finally {
            if (pages != null) {
                pages.close();
            }
        }
    }

    private static void drain(InputStream in) throws IOException {
        byte[] ignored = new byte[256];
        while (in.read(ignored) >= 0) {
            // wait for the end of input
        }
    }
}
