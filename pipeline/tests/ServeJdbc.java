// pgjdbc (the driver inside Metabase, Tableau and DBeaver) against `conveyor serve`:
// the DatabaseMetaData calls a BI tool makes when it syncs a database, then a prepared
// statement with an integer parameter against a NUMERIC column. Prints one fact per line
// ("table <name>", "column <name> <type>", "pk <column>", "query <count> <sum>") for
// pipeline/tests/serve.rs to compare with DuckDB. Run with Java's single-file launcher:
//   java -cp /usr/share/java/postgresql.jar ServeJdbc.java PORT USER PASSWORD
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;

public class ServeJdbc {
    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://127.0.0.1:" + args[0] + "/conveyor?sslmode=disable";
        try (Connection c = DriverManager.getConnection(url, args[1], args[2])) {
            DatabaseMetaData md = c.getMetaData();
            System.out.println("product " + md.getDatabaseProductName());
            String[] kinds = {"TABLE", "VIEW", "FOREIGN TABLE", "MATERIALIZED VIEW", "PARTITIONED TABLE"};
            try (ResultSet rs = md.getTables(null, "public", "%", kinds)) {
                while (rs.next()) System.out.println("table " + rs.getString("TABLE_NAME"));
            }
            try (ResultSet rs = md.getColumns(null, "public", "cohort_retention", "%")) {
                while (rs.next()) {
                    System.out.println("column " + rs.getString("COLUMN_NAME") + " " + rs.getString("TYPE_NAME"));
                }
            }
            try (ResultSet rs = md.getPrimaryKeys(null, "public", "cohort_retention")) {
                while (rs.next()) System.out.println("pk " + rs.getString("COLUMN_NAME"));
            }
            try (ResultSet rs = md.getImportedKeys(null, "public", "cohort_retention")) {
                while (rs.next()) System.out.println("fk " + rs.getString("FKCOLUMN_NAME"));
            }
            String sql = "SELECT count(*), sum(amount) FROM orders WHERE amount >= ?";
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                ps.setInt(1, Integer.parseInt(args[3]));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) System.out.println("query " + rs.getLong(1) + " " + rs.getBigDecimal(2).toPlainString());
                }
            }
        }
    }
}
