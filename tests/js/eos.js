// Weir's idempotence and transaction checks with kafkajs, run by
// tests/python/test_kafkajs.py (one test command for everything):
//
//   node eos.js idempotent   BOOTSTRAP TOPIC PARTITIONS
//   node eos.js transactions BOOTSTRAP TOPIC PARTITIONS
//
// Each scenario produces, reads back, and prints one JSON line with what it produced
// and what each consumer saw; the Python test makes the assertions. Any client error
// ends the process non-zero with the error on stderr.
'use strict'

const { Kafka, logLevel } = require('kafkajs')

const [, , scenario, bootstrap, topic, partitionsArg] = process.argv
const partitions = Number(partitionsArg)

const kafka = new Kafka({
  clientId: 'weir-kafkajs',
  brokers: [bootstrap],
  logLevel: logLevel.WARN,
  retry: { retries: 8, initialRetryTime: 100 }
})

function value (fields) {
  return JSON.stringify(fields)
}

// Reads every partition from the beginning in its own consumer group until `want`
// records arrived (or the deadline passes); returns [{partition, offset, value}].
async function readUntil (want, readUncommitted, stopWhen) {
  const consumer = kafka.consumer({
    groupId: `weir-kafkajs-${scenario}-${readUncommitted}-${Date.now()}`,
    readUncommitted,
    sessionTimeout: 10000,
    heartbeatInterval: 1000
  })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const seen = []
  let resolveDone
  const done = new Promise((resolve) => { resolveDone = resolve })
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      seen.push({ partition, offset: Number(message.offset), value: message.value.toString() })
      if (stopWhen(seen)) resolveDone()
    }
  })
  const timer = setTimeout(resolveDone, 60000)
  await done
  clearTimeout(timer)
  await consumer.disconnect()
  return seen
}

async function idempotent () {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  const produced = []
  for (let batch = 0; batch < 10; batch++) {
    const messages = []
    for (let i = 0; i < 30; i++) {
      const seq = batch * 30 + i
      messages.push({ partition: seq % partitions, value: value({ p: 'kafkajs', s: seq }) })
    }
    const acks = await producer.send({ topic, acks: -1, messages })
    produced.push(...messages.map((m) => m.value))
    void acks
  }
  await producer.disconnect()
  const seen = await readUntil(produced.length, false, (s) => s.length >= produced.length)
  return { produced, seen }
}

async function transactions () {
  const producer = kafka.producer({
    transactionalId: 'weir-kafkajs-txn',
    idempotent: true,
    maxInFlightRequests: 1
  })
  await producer.connect()
  const outcome = { committed: [], aborted: [] }
  for (let t = 0; t < 6; t++) {
    const commit = t % 3 !== 1 // commit, abort, commit, commit, abort, commit
    const txn = await producer.transaction()
    const messages = []
    for (let i = 0; i < 12; i++) {
      messages.push({ partition: i % partitions, value: value({ p: 'kafkajs', t, i }) })
    }
    await txn.send({ topic, messages })
    if (commit) {
      await txn.commit()
      outcome.committed.push(...messages.map((m) => m.value))
    } else {
      await txn.abort()
      outcome.aborted.push(...messages.map((m) => m.value))
    }
  }
  await producer.disconnect()
  // The last transaction is committed and follows every aborted one on every
  // partition: once all of it arrived, any aborted record would have arrived too.
  const last = new Set(outcome.committed.slice(-12))
  const allOfLast = (s) => s.filter((r) => last.has(r.value)).length >= last.size
  const committedView = await readUntil(outcome.committed.length, false, allOfLast)
  const uncommittedView = await readUntil(outcome.committed.length + outcome.aborted.length, true,
    (s) => s.length >= outcome.committed.length + outcome.aborted.length)
  return { ...outcome, committedView, uncommittedView }
}

const scenarios = { idempotent, transactions }

async function main () {
  if (!scenarios[scenario]) throw new Error(`unknown scenario ${scenario}`)
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true })
  await admin.disconnect()
  const result = await scenarios[scenario]()
  process.stdout.write(JSON.stringify(result) + '\n')
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`kafkajs ${scenario} failed: ${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
})
