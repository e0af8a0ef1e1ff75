-- Bodies of messages between control-plane replicas that do not fit a NOTIFY payload (8000 bytes), such as a
-- connection test and its result: the sender stores the body, the NOTIFY names it, the receiver takes it
-- (delete ... returning). Rows left by a replica that died mid-exchange are swept after an hour.
CREATE TABLE "replica_messages" (
    "id" UUID NOT NULL,
    "body" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "replica_messages_pkey" PRIMARY KEY ("id")
);
