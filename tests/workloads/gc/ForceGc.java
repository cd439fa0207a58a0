// Calls System.gc() N times (each a full collection with G1, which
// -XX:+ExplicitGCInvokesConcurrent would change), between a "ready" line
// and a "done" line, each after a line on stdin, so a tracer can attach
// first and read the end before the JVM exits.
import java.io.BufferedReader;
import java.io.InputStreamReader;

public class ForceGc {
    public static void main(String[] args) throws Exception {
        int n = Integer.parseInt(args[0]);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        System.out.println("ready");
        in.readLine();
        for (int i = 0; i < n; i++)
            System.gc();
        System.out.println("done");
        in.readLine();
    }
}
