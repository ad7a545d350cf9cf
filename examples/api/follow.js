#!/usr/bin/env node
// SPDX-License-Identifier: LGPL-2.1-or-later
// Starts a profd session, follows it until it finishes, and prints its result (docs/api.md).
//
//   npm install --omit=optional     (dbus-next 0.10.2, pinned in package.json)
//   node follow.js [--user] -- TARGET [ARGS...]
//
// The order is what matters: start, subscribe to the session's PropertiesChanged, then read State
// once. dbus-next sends the subscription (AddMatch) before the Get on the same connection, so the
// bus applies it first: whatever changes after the Get arrives as a signal.
'use strict';

const dbus = require('dbus-next');
const { Variant } = dbus;

const NAME = 'org.profd.Profd1';
const SESSION = 'org.profd.Profd1.Session';

async function main(argv) {
    let user = false;
    while (argv.length && argv[0] !== '--') {
        if (argv[0] === '--user') user = true;
        else throw new Error('usage: follow.js [--user] -- TARGET [ARGS...]');
        argv = argv.slice(1);
    }
    const target = argv.slice(1);
    if (!target.length) throw new Error('usage: follow.js [--user] -- TARGET [ARGS...]');

    const bus = user ? dbus.sessionBus() : dbus.systemBus();
    try {
        const manager = (await bus.getProxyObject(NAME, '/org/profd/Profd1')).getInterface('org.profd.Profd1.Manager');

        // The spec is a{sv}: an object of Variants of the documented types.
        const [id, path] = await manager.StartSession({
            Target: new Variant('as', target),
            Description: new Variant('s', 'follow.js'),
        });
        console.log(`session ${id} at ${path}`);

        const session = await bus.getProxyObject(NAME, path);
        const props = session.getInterface('org.freedesktop.DBus.Properties');
        let state = null;
        const finished = new Promise((resolve) => {
            const show = (s) => {
                if (s !== state) {
                    state = s;
                    console.log(`state: ${s}`);
                }
                if (s === 'finished') resolve();
            };
            props.on('PropertiesChanged', (iface, changed) => {
                if (iface === SESSION && changed.State) show(changed.State.value);
            });
            props.Get(SESSION, 'State').then((v) => show(v.value));
        });
        await finished;

        // Status: a{sv} again; ProcessDetails is aa{sv}, so Variants inside Variants.
        const status = await session.getInterface(SESSION).Status();
        const result = status.Result.value;
        console.log(`result: ${result}`);
        console.log(`output: ${status.OutputDirectory.value}`);
        for (const p of status.ProcessDetails.value) {
            console.log(`  ${p.Name.value.padEnd(10)} ${p.Role.value.padEnd(9)} pid ${String(p.PID.value).padEnd(7)} ${p.End.value}`);
        }
        return result === 'success' ? 0 : 1;
    } finally {
        bus.disconnect();
    }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err) => {
    // D-Bus errors carry their name in .type (org.profd.Profd1.Error.InvalidSpec, ...).
    console.error(err.type ? `${err.type}: ${err.text}` : err.message);
    process.exitCode = 1;
});
