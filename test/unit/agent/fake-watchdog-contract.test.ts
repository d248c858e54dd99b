import {watchdogContract} from '../../contract/watchdog-contract'
import {FakeWatchdogs} from '../../fakes/fake-watchdog'

watchdogContract('FakeWatchdogs', async () => {
  const watchdogs = new FakeWatchdogs().addDevice('/dev/watchdog')
  const log = () => watchdogs.log('/dev/watchdog')
  return {
    watchdogs,
    working: {driver: 'default', device: '/dev/watchdog'},
    missing: {driver: 'default', device: '/dev/absent'},
    seen: async (pred) => {
      const s = {timeouts: [...log().timeouts], kicks: log().kicks, magicCloses: log().magicCloses}
      if (!pred(s)) throw new Error(`the fake saw ${JSON.stringify(s)}`)
      return s
    },
    cleanup: async () => {},
  }
})
