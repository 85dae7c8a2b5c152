/**
 * `npm run bench:backup`: time and size of `hexfleet backup create`,
 * `verify` and `restore` for 1,000,000 drivers, against redis-cli --rdb and
 * an RDB load of the same data in the same run (scenarios/backup-1m.ts).
 */
import { gitState } from '../lib/git-state.js';
import { positive } from '../lib/options.js';
import { machineInfo } from '../lib/report.js';
import { runScenarios, type Suite } from '../lib/suite.js';
import { type BackupBenchContext, runBackupBench } from '../scenarios/backup-1m.js';

export const backupSuite: Suite = {
  name: 'backup',
  summary:
    'hexfleet backup create, verify and restore of 1,000,000 drivers in Redis (each the CLI in its own process), time and bytes on disk, ' +
    'against redis-cli --rdb and an RDB load of the same data; the restored Redis compared key by key.',
  flags: {
    quick: 'smoke run: 100,000 drivers (results go to backup-quick.md)',
    waitQuiet: 'before each timed step, wait up to this long for processes outside the benchmark to go quiet (default 0 = start at once)',
    keepLogs: 'keep the temp dir with the backup file, the RDB and both Redis data directories',
    own: [{ name: 'drivers', arg: 'N', help: 'drivers loaded (default 1,000,000; 100,000 with --quick)' }],
  },
  output: 'report',
  prepare(common, own) {
    const drivers = Math.round(positive('--drivers', own.drivers, common.quick ? 100_000 : 1_000_000, 20_000_000));
    return async ({ session, progress }) => {
      const built = gitState();
      const redis = await session.startRedis();
      const ctx: BackupBenchContext = {
        options: { drivers, metroSideKm: 30, h3Resolution: 9, waitQuietS: common.waitQuietS },
        redis,
        tmpDir: session.tmpDir,
        progress,
      };
      const machine = await machineInfo(redis);
      const { rows, crashed } = await runScenarios(ctx, [{ name: 'B backup', run: runBackupBench }]);
      const notes = [
        `Code: ${built} when the run started (\`npm run build\` compiles the working tree).`,
        'Times are wall clock from spawning the command to its exit (Node.js start, connecting and closing included). ' +
          'CPU is utime + stime in % of one core over the step: the command (this process\'s reaped children), Redis from /proc/<pid>/stat ' +
          '(redis-cli --rdb makes Redis fork a child for the RDB, whose CPU is not in the "redis" figure), and every other process on the machine.',
        'The backup is DUMP payloads (Redis\'s own serialization, LZF-compressed strings) with key names and expiries, AES-256-GCM in 1 MiB chunks; ' +
          'the RDB is the same data in Redis\'s own file format. Create reads a SCAN page of 1,000 keys per script call (DUMP + PTTL), two pages in flight. ' +
          'Restore verifies the whole file first, then reads it again and RESTOREs every key (one script call per chunk, 4 in flight) into a Redis that ' +
          'appends every write to its AOF (everysec); the baseline loads the RDB at start with AOF off.',
        'No event log is configured: a backup with one waits HEXFLEET_REDIS_COMMAND_TIMEOUT_MS (2 s by default) between reading the offsets and the scan, ' +
          'and a restore --to adds the replay of the log from the backup\'s offsets (bench:log L3 measures replay rates).',
      ];
      return {
        kind: 'report',
        title: 'hexfleet backup benchmark',
        machine,
        runKind: [common.quick ? 'quick smoke run' : 'full run', `${drivers.toLocaleString('en-US')} drivers`,
          ...(common.waitQuietS > 0 ? [`each step waited up to ${common.waitQuietS} s for other processes to go quiet`] : [])].join(', '),
        rows,
        notes,
        appendix: [],
        fileName: `backup-${common.quick ? 'quick' : 'latest'}.md`,
        crashed,
      };
    };
  },
};
