// Consumes a tap with the official @atproto/tap client: adds the given
// repos, prints every event it is handed as one JSON line, acks it, and
// exits after `expected` events. Usage:
//   node consume.mjs <tap url> <admin password> <expected> <did>...
import { Tap } from '@atproto/tap'

const [url, password, expectedArg, ...dids] = process.argv.slice(2)
const expected = Number(expectedArg)
const tap = new Tap(url, { adminPassword: password })
await tap.addRepos(dids)

let seen = 0
let channel
const done = new Promise((resolve, reject) => {
  channel = tap.channel({
    onEvent: async (evt, opts) => {
      process.stdout.write(JSON.stringify(evt) + '\n')
      await opts.ack()
      seen++
      if (seen >= expected) resolve()
    },
    onError: (err) => {
      process.stderr.write(`client error: ${err.message} ${err.cause ?? ''}\n`)
      reject(err)
    },
  }, { adminPassword: password })
  channel.start().catch(reject)
})
// Keep the process alive while events arrive (the channel's socket alone
// may not hold the event loop open between reconnects).
const keepAlive = setInterval(() => {}, 1000)
await done
for (const did of dids) {
  const info = await tap.getRepoInfo(did)
  process.stderr.write(`info ${JSON.stringify(info)}\n`)
}
clearInterval(keepAlive)
channel.destroy().catch(() => {})
process.exit(0)
