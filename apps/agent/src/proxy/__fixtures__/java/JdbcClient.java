// What a JDBC application or BI tool does, through the agent or directly: prints what it read, one line per
// check. pgjdbc uses the extended protocol throughout, switches a statement to a named server-side one after
// its fifth run (and then reads some types in binary), batches inserts before one Sync, reads with a fetch
// size (portals suspended and resumed), asks the catalog through DatabaseMetaData, and cancels.
import java.sql.*;
import java.util.*;

public class JdbcClient {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.setProperty("user", args[1]);
    if (args.length > 2) props.setProperty("password", args[2]);
    props.setProperty("sslmode", "disable");
    try (Connection conn = DriverManager.getConnection(args[0], props)) {
      List<String> out = new ArrayList<>();
      try (Statement st = conn.createStatement();
          ResultSet rs = st.executeQuery("select * from accounts where id <= 2 order by id")) {
        out.add("rows " + dump(rs));
      }
      try (PreparedStatement ps =
          conn.prepareStatement("select id, email, balance, created, tags, scores, uid, active, ratio from accounts where id = ?")) {
        for (int i = 1; i <= 7; i++) {
          ps.setInt(1, i);
          try (ResultSet rs = ps.executeQuery()) {
            out.add("prepared " + dump(rs));
          }
        }
      }
      conn.setAutoCommit(false);
      try (PreparedStatement ps = conn.prepareStatement("insert into imports (id, name) values (?, ?)")) {
        for (int i = 1; i <= 50; i++) {
          ps.setInt(1, i);
          ps.setString(2, "row " + i);
          ps.addBatch();
        }
        out.add("batch " + Arrays.stream(ps.executeBatch()).sum());
      }
      try (Statement st = conn.createStatement()) {
        st.setFetchSize(3);
        try (ResultSet rs = st.executeQuery("select id, email from accounts order by id")) {
          out.add("fetched " + dump(rs));
        }
      }
      conn.rollback();
      try (Statement st = conn.createStatement()) {
        st.executeQuery("select 1 / 0");
      } catch (SQLException e) {
        out.add("error " + e.getSQLState() + " " + e.getMessage());
      }
      conn.rollback();
      conn.setAutoCommit(true);
      DatabaseMetaData meta = conn.getMetaData();
      try (ResultSet rs = meta.getColumns(null, "public", "accounts", null)) {
        StringBuilder columns = new StringBuilder();
        while (rs.next()) columns.append(rs.getString("COLUMN_NAME")).append(':').append(rs.getString("TYPE_NAME")).append(' ');
        out.add("columns " + columns.toString().trim());
      }
      // Both call information_schema's helper functions (Hibernate's schema validation reads them).
      try (ResultSet rs = meta.getPrimaryKeys(null, "public", "accounts")) {
        out.add("primary key " + dump(rs));
      }
      try (ResultSet rs = meta.getIndexInfo(null, "public", "accounts", false, false)) {
        out.add("indexes " + dump(rs));
      }
      try (ResultSet rs = meta.getTables(null, "public", "%", new String[] {"TABLE"})) {
        StringBuilder tables = new StringBuilder();
        while (rs.next()) tables.append(rs.getString("TABLE_NAME")).append(' ');
        out.add("tables " + tables.toString().trim());
      }
      try (Statement st = conn.createStatement()) {
        st.setQueryTimeout(1); // the driver sends a CancelRequest after a second
        long started = System.nanoTime();
        try {
          st.execute("select pg_sleep(30)");
          out.add("cancel did not happen");
        } catch (SQLException e) {
          long ms = (System.nanoTime() - started) / 1_000_000;
          out.add("cancelled " + e.getSQLState() + (ms < 3000 ? " in time" : " after " + ms + " ms"));
        }
      }
      try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery("select 42")) {
        rs.next();
        out.add("after " + rs.getInt(1));
      }
      for (String line : out) System.out.println(line);
    }
  }

  static String dump(ResultSet rs) throws SQLException {
    StringBuilder sb = new StringBuilder();
    int n = rs.getMetaData().getColumnCount();
    while (rs.next()) {
      sb.append('[');
      for (int i = 1; i <= n; i++) {
        Object value = rs.getObject(i);
        if (value instanceof Array) value = Arrays.toString((Object[]) ((Array) value).getArray());
        if (value instanceof byte[]) value = Arrays.toString((byte[]) value);
        sb.append(rs.getMetaData().getColumnName(i)).append('=').append(value).append(i < n ? ", " : "");
      }
      sb.append(']');
    }
    return sb.toString();
  }
}
