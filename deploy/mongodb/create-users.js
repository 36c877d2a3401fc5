// Haven: one MongoDB user per service, limited to that service's own database.
//
// The mongo image runs this once, on the first start with an empty data volume
// (/docker-entrypoint-initdb.d/), as the root user. Each password comes from the
// service's secret file, which compose mounts into this container and into that
// service's container only. To rotate one later:
//   docker compose exec mongodb mongosh -u root -p "$(cat secrets/mongo_root_password)" \
//     --eval 'db.getSiblingDB("haven_gateway").changeUserPassword("haven_gateway", "…")'
const fs = require("fs");

for (const service of ["gateway", "messaging", "notification"]) {
  const database = `haven_${service}`;
  const password = fs.readFileSync(`/run/secrets/${service}_mongo_password`, "utf8").trim();
  db.getSiblingDB(database).createUser({
    user: database,
    pwd: password,
    roles: [{ role: "readWrite", db: database }],
  });
  print(`created user ${database} (readWrite on ${database} only)`);
}
