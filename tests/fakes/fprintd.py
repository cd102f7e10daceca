'''A fake fprintd for lwauth's tests: a python-dbusmock template.

It owns net.reactivated.Fprint on the bus it is given (DBUS_SYSTEM_BUS_ADDRESS: the
tests' private bus) and serves the subset of fprintd's D-Bus interface that a
fingerprint login uses, with fprintd's own names, signatures and errors
(src/manager.xml and src/device.xml of fprintd):

  net.reactivated.Fprint.Manager at /net/reactivated/Fprint/Manager
    GetDevices() -> ao, GetDefaultDevice() -> o (NoSuchDevice when there is none)
  net.reactivated.Fprint.Device at /net/reactivated/Fprint/Device/N
    ListEnrolledFingers(s username) -> as   (NoEnrolledPrints when the user has none)
    Claim(s username)                        (AlreadyInUse when claimed)
    Release()                                (ClaimDevice when not claimed)
    VerifyStart(s finger_name)               (ClaimDevice, AlreadyInUse, NoEnrolledPrints)
    VerifyStop()                             (ClaimDevice, NoActionInProgress)
    signals VerifyFingerSelected(s finger_name), VerifyStatus(s result, b done)
    properties name, scan-type, num-enroll-stages, finger-present, finger-needed

python-dbusmock (Debian's python3-dbusmock 0.28) ships no fprintd template, so this is
one, run as
    /usr/bin/python3 -m dbusmock --system --template tests/fakes/fprintd.py -l LOG

A test controls it through org.freedesktop.DBus.Mock on the manager object:
  AddDevice(s name) -> o                     a reader; the first is Device/0
  SetEnrolledFingers(o device, s user, as fingers)
  SetVerifyScript(o device, a(sb) statuses, b vanish)
      what the next VerifyStart does: after its reply, VerifyFingerSelected("any"), then
      each (result, done) as a VerifyStatus signal, in order; then, with vanish, the
      process exits (fprintd vanishing from the bus mid-verification). An empty script
      without vanish never answers (a reader nobody touches).
  SetClaimedElsewhere(o device, b claimed)   Claim fails with AlreadyInUse, as when
      another program holds the reader
  EmitVerifyStatus(o device, s result, b done)   one VerifyStatus signal, now
  SetClaimDelay(o device, u milliseconds)    Claim answers that much later (the fake
      answers nothing meanwhile), so that a test can act while Claim is on its way
and dbusmock records every call: GetCalls() / GetMethodCalls(s) on org.freedesktop.DBus.Mock
at the device's path (VerifyStop and Release among them), and in the -l log.
'''

import os
import time

import dbus
from dbusmock import MOCK_IFACE, mockobject
from gi.repository import GLib

BUS_NAME = 'net.reactivated.Fprint'
MAIN_OBJ = '/net/reactivated/Fprint/Manager'
MAIN_IFACE = 'net.reactivated.Fprint.Manager'
SYSTEM_BUS = True

DEVICE_IFACE = 'net.reactivated.Fprint.Device'
DEVICE_PATH = '/net/reactivated/Fprint/Device/'
ERROR = 'net.reactivated.Fprint.Error.'
# The gap between two scripted signals: they keep their order whatever it is.
SIGNAL_GAP_MS = 20


def fprint_error(name, message):
    return dbus.exceptions.DBusException(message, name=ERROR + name)


def load(mock, _parameters):
    mock.devices = []
    mock.AddMethods(MAIN_IFACE, [
        ('GetDevices', '', 'ao', get_devices),
        ('GetDefaultDevice', '', 'o', get_default_device),
    ])


def get_devices(manager):
    return dbus.Array(manager.devices, signature='o')


def get_default_device(manager):
    if not manager.devices:
        raise fprint_error('NoSuchDevice', 'No devices available')
    return manager.devices[0]


def list_enrolled_fingers(device, username):
    fingers = device.enrolled.get(username, [])
    if not fingers:
        raise fprint_error('NoEnrolledPrints', 'Failed to discover prints')
    return dbus.Array(fingers, signature='s')


def claim(device, username):
    if device.claim_delay_ms:
        # The whole fake waits: a daemon slow to open its reader.
        time.sleep(device.claim_delay_ms / 1000)
    if device.claimed_elsewhere or device.claimed_by is not None:
        raise fprint_error('AlreadyInUse', 'Device was already claimed')
    device.claimed_by = username


def release(device):
    if device.claimed_by is None:
        raise fprint_error('ClaimDevice', 'Device was not claimed before use')
    device.claimed_by = None
    device.verifying = False


def verify_start(device, _finger_name):
    if device.claimed_by is None:
        raise fprint_error('ClaimDevice', 'Device was not claimed before use')
    if device.verifying:
        raise fprint_error('AlreadyInUse', 'Verification already in progress')
    if not device.enrolled.get(device.claimed_by):
        raise fprint_error('NoEnrolledPrints', 'No fingerprints enrolled')
    device.verifying = True
    steps = [('finger', 'any')] + [('status', s) for s in device.script]
    if device.vanish:
        steps.append(('vanish', None))
    GLib.timeout_add(SIGNAL_GAP_MS, emit_next, device, steps)


def emit_next(device, steps):
    '''Sends the first step of the script; runs again for the rest.'''
    if not steps or not device.verifying:
        return False
    kind, value = steps.pop(0)
    if kind == 'finger':
        device.EmitSignal(DEVICE_IFACE, 'VerifyFingerSelected', 's', [value])
    elif kind == 'status':
        device.EmitSignal(DEVICE_IFACE, 'VerifyStatus', 'sb', [value[0], value[1]])
    else:
        device.log('vanishing')
        os._exit(0)  # pylint: disable=protected-access
    return bool(steps)


def verify_stop(device):
    if device.claimed_by is None:
        raise fprint_error('ClaimDevice', 'Device was not claimed before use')
    if not device.verifying:
        raise fprint_error('NoActionInProgress', 'No verification in progress')
    device.verifying = False


@dbus.service.method(MOCK_IFACE, in_signature='s', out_signature='o')
def AddDevice(self, name):
    '''Adds a reader called `name`; returns its path.'''
    path = dbus.ObjectPath(DEVICE_PATH + str(len(self.devices)))
    self.AddObject(path, DEVICE_IFACE, {
        'name': dbus.String(name),
        'scan-type': dbus.String('press'),
        'num-enroll-stages': dbus.Int32(-1),
        'finger-present': dbus.Boolean(False),
        'finger-needed': dbus.Boolean(False),
    }, [
        ('ListEnrolledFingers', 's', 'as', list_enrolled_fingers),
        ('Claim', 's', '', claim),
        ('Release', '', '', release),
        ('VerifyStart', 's', '', verify_start),
        ('VerifyStop', '', '', verify_stop),
    ])
    device = mockobject.objects[path]
    device.enrolled = {}
    device.script = []
    device.vanish = False
    device.claimed_by = None
    device.claimed_elsewhere = False
    device.claim_delay_ms = 0
    device.verifying = False
    self.devices.append(path)
    return path


@dbus.service.method(MOCK_IFACE, in_signature='osas', out_signature='')
def SetEnrolledFingers(_self, path, user, fingers):
    '''The prints `user` has on the reader at `path` (none: an empty list).'''
    mockobject.objects[path].enrolled[str(user)] = [str(f) for f in fingers]


@dbus.service.method(MOCK_IFACE, in_signature='oa(sb)b', out_signature='')
def SetVerifyScript(_self, path, statuses, vanish):
    '''What the next VerifyStart on the reader at `path` sends (see the module's text).'''
    device = mockobject.objects[path]
    device.script = [(str(result), bool(done)) for result, done in statuses]
    device.vanish = bool(vanish)


@dbus.service.method(MOCK_IFACE, in_signature='ob', out_signature='')
def SetClaimedElsewhere(_self, path, claimed):
    '''Whether another program holds the reader at `path` (Claim: AlreadyInUse).'''
    mockobject.objects[path].claimed_elsewhere = bool(claimed)


@dbus.service.method(MOCK_IFACE, in_signature='osb', out_signature='')
def EmitVerifyStatus(_self, path, result, done):
    '''Sends VerifyStatus(result, done) from the reader at `path` now, whatever its state.'''
    mockobject.objects[path].EmitSignal(DEVICE_IFACE, 'VerifyStatus', 'sb',
                                        [str(result), bool(done)])


@dbus.service.method(MOCK_IFACE, in_signature='ou', out_signature='')
def SetClaimDelay(_self, path, milliseconds):
    '''How long Claim on the reader at `path` takes to answer.'''
    mockobject.objects[path].claim_delay_ms = int(milliseconds)
