// An independent SOAP client of Rendez: Java's JAX-WS RI, on classes that `wsimport` generated
// from the served WSDL (package rendez.soap.v1, the default for urn:rendez:soap:v1).
//
// Usage: java Check WSDL_URL USERNAME PASSWORD
//   USERNAME  an API client with the `admin` and `messaging` roles (HTTP Basic)
//
// Prints one "ok - ..." line per passing check; exits 1 at the first failure.

import java.net.URL;
import java.util.List;
import java.util.Map;
import javax.xml.ws.BindingProvider;
import javax.xml.ws.Holder;

import rendez.soap.v1.Center;
import rendez.soap.v1.MessageStatus;
import rendez.soap.v1.RendezPortType;
import rendez.soap.v1.RendezService;

public class Check {
    static void check(boolean condition, String message) {
        if (!condition) {
            System.err.println("not ok - " + message);
            System.exit(1);
        }
        System.out.println("ok - " + message);
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: java Check WSDL_URL USERNAME PASSWORD");
            System.exit(2);
        }
        RendezPortType port = new RendezService(new URL(args[0])).getRendezSoap11Port();
        Map<String, Object> context = ((BindingProvider) port).getRequestContext();
        context.put(BindingProvider.USERNAME_PROPERTY, args[1]);
        context.put(BindingProvider.PASSWORD_PROPERTY, args[2]);

        List<Center> centers = port.getCenters();
        StringBuilder seen = new StringBuilder();
        for (Center center : centers) {
            seen.append(center.getCENTERLID()).append('=').append(center.getTIMEZONE()).append(';');
        }
        check(seen.toString().contains("C1=Europe/Madrid;"), "getCenters answers C1 in Europe/Madrid: " + seen);

        // PAGE and PAGE_SIZE go out and come back (one Holder each: the same name and type in the
        // request and the answer).
        Holder<Integer> page = new Holder<>(1);
        Holder<Integer> pageSize = new Holder<>(2);
        Holder<List<MessageStatus>> messages = new Holder<>();
        Holder<Integer> total = new Holder<>();
        port.searchMessages(null, null, null, null, null, null, null, page, pageSize, messages, total);
        check(
            Integer.valueOf(1).equals(page.value)
                && Integer.valueOf(2).equals(pageSize.value)
                && Integer.valueOf(0).equals(total.value),
            "searchMessages answers PAGE 1, PAGE_SIZE 2, TOTAL 0: "
                + page.value + ", " + pageSize.value + ", " + total.value);
    }
}
