// Haven's clustered profile (docker-compose.cluster.yml): make the three MongoDB
// members one replica set, `rs0`.
//
// Run once per start by the one-shot `mongodb-init` service, against `mongodb`
// (the member that created the users on its first start, create-users.js): it
// initiates the set if nobody has yet, then waits for a primary. Idempotent. The
// root password comes from the secret file, never from a command line.
const fs = require("fs");

const SET = "rs0";
const MEMBERS = ["mongodb:27017", "mongodb-2:27017", "mongodb-3:27017"];

const password = fs.readFileSync("/run/secrets/mongo_root_password", "utf8").trim();
db.getSiblingDB("admin").auth("root", password);

function initiated() {
  try {
    rs.status();
    return true;
  } catch (error) {
    if (error.codeName === "NotYetInitialized") return false;
    throw error;
  }
}

if (!initiated()) {
  rs.initiate({
    _id: SET,
    // The first member (which holds the users) is preferred as primary; the others
    // copy everything from it (initial sync).
    members: MEMBERS.map((host, index) => ({ _id: index, host, priority: index === 0 ? 2 : 1 })),
  });
  print(`initiated replica set ${SET} with ${MEMBERS.join(", ")}`);
}

for (let attempt = 0; attempt < 120; attempt += 1) {
  const primary = rs.status().members.find((member) => member.stateStr === "PRIMARY");
  if (primary) {
    print(`replica set ${SET}: primary ${primary.name}`);
    quit(0);
  }
  sleep(1000);
}
print(`replica set ${SET}: no primary after two minutes`);
quit(1);
