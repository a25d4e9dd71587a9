"""The FU740 devices the SD boot chain touches, driven as U-Boot's drivers drive them."""

from __future__ import annotations

import signal
import struct
import zlib
from pathlib import Path
from types import FrameType

import pytest

from harness.emulator.bus import Bus, BusError
from harness.emulator.console import MemoryConsole
from harness.emulator.devices import prci as prci_mod
from harness.emulator.devices.at24 import ADDRESS as EEPROM_ADDRESS
from harness.emulator.devices.at24 import At24Eeprom, sifive_record
from harness.emulator.devices.ccache import CONFIG_VALUE, CacheController
from harness.emulator.devices.da9063 import Da9063
from harness.emulator.devices.ddr import CTL_INT_STATUS, MC_INIT_COMPLETE, DdrController, PhysicalFilter
from harness.emulator.devices.fu740_pcie import PcieManagement
from harness.emulator.devices.ocores_i2c import CR_RD, CR_SR, CR_STA, CR_STO, CR_WR, SR_RXACK, TXR_RXR, OcoresI2c
from harness.emulator.devices.prci import DDR_RESETS, DDRPLLCFG0, DEVICESRESETREG, LOCK, Prci
from harness.emulator.devices.sdcard import SdCardError, SdImage, SpiSdCard, crc7, crc16
from harness.emulator.devices.sifive_gpio import INPUT_EN, INPUT_VAL, OUTPUT_EN, OUTPUT_VAL, SifiveGpio
from harness.emulator.devices.sifive_spi import (
    CSDEF,
    CSID,
    CSMODE,
    CSMODE_AUTO,
    CSMODE_HOLD,
    CSMODE_OFF,
    FMT,
    FMT_DIR_TX,
    RX_EMPTY,
    RXDATA,
    TXDATA,
    SifiveSpi,
)
from harness.emulator.devices.test import MachineExit, MachineReset
from harness.emulator.machine import Machine, MachineConfig
from harness.emulator.zsbl import SdHost, ZsblError, load_spl
from tests.emulator.fu740_card import SPL_FIRST, write_card

BLOCK = 512


def _image(tmp_path: Path, blocks: int = 64) -> Path:
    data = b"".join(bytes([n & 0xFF]) * BLOCK for n in range(blocks))
    path = tmp_path / "card.img"
    path.write_bytes(data)
    return path


def _command(card: SpiSdCard, index: int, arg: int = 0) -> list[int]:
    """Send a command as U-Boot's mmc_spi does (0xFF, frame, CRC7) and return 8 bytes after it."""
    frame = bytes((0x40 | index,)) + arg.to_bytes(4, "big")
    for byte in b"\xff" + frame + bytes((crc7(frame),)):
        card.exchange(byte)
    return [card.exchange(0xFF) for _ in range(8)]


def test_crcs_match_the_sd_specification() -> None:
    # The specification's examples: CMD0's frame ends in 0x95, CMD8(0x1AA) in 0x87.
    assert crc7(bytes.fromhex("4000000000")) == 0x95
    assert crc7(bytes.fromhex("48000001AA")) == 0x87
    # 512 bytes of 0xFF have CRC16 0x7FA1 (SD Physical Layer Simplified Spec, 4.5).
    assert crc16(b"\xff" * 512) == 0x7FA1


def test_card_initialises_and_reports_sdhc(tmp_path: Path) -> None:
    card = SpiSdCard(SdImage(str(_image(tmp_path))))
    assert _command(card, 0)[:2] == [0xFF, 0x01]  # Ncr, then R1 idle
    assert _command(card, 8, 0x1AA)[1:6] == [0x01, 0, 0, 0x01, 0xAA]
    _command(card, 55)
    assert _command(card, 41, 1 << 30)[1] == 0x00  # ready after the first ACMD41
    ocr = _command(card, 58)[1:6]
    assert ocr[0] == 0 and ocr[1] & 0xC0 == 0xC0  # powered up, block-addressed (CCS)
    assert _command(card, 63)[1] == 0x04  # unknown command: illegal
    csd = _command(card, 9)
    assert csd[1] == 0x00


def test_multi_block_read_sends_each_block_with_its_crc(tmp_path: Path) -> None:
    card = SpiSdCard(SdImage(str(_image(tmp_path))))
    host = SdHost(card)
    host.init()
    data = host.read(5, 3)
    assert data == bytes([5]) * BLOCK + bytes([6]) * BLOCK + bytes([7]) * BLOCK
    assert host.read(63, 1) == bytes([63]) * BLOCK
    with pytest.raises(ZsblError, match="read of block 64 failed"):
        host.read(64, 1)


def test_writes_stay_in_memory(tmp_path: Path) -> None:
    path = _image(tmp_path)
    card = SpiSdCard(SdImage(str(path)))
    SdHost(card).init()
    _command(card, 24, 2)
    for byte in b"\xfe" + b"\xab" * BLOCK + b"\x00\x00":
        card.exchange(byte)
    assert card.exchange(0xFF) & 0x1F == 0x05  # data accepted
    assert SdHost(card).read(2, 1) == b"\xab" * BLOCK
    assert path.read_bytes()[2 * BLOCK : 3 * BLOCK] == bytes([2]) * BLOCK


def test_unreadable_card_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(SdCardError, match="could not open SD card image"):
        SdImage(str(tmp_path / "missing.img"))


def test_spi_controller_clocks_bytes_through_the_selected_card(tmp_path: Path) -> None:
    card = SpiSdCard(SdImage(str(_image(tmp_path))))
    spi = SifiveSpi(1, {0: card})
    spi.write(CSDEF, 4, 0xFFFFFFFF)
    assert spi.read(CSDEF, 4) == 1  # one chip select, as U-Boot probes it
    spi.write(CSMODE, 4, CSMODE_HOLD)
    received = []
    for byte in b"\xff\x40\x00\x00\x00\x00\x95\xff\xff":
        spi.write(TXDATA, 4, byte)
        received.append(spi.read(RXDATA, 4))
    assert received[-1] == 0x01  # R1 idle after CMD0
    assert spi.read(RXDATA, 4) == RX_EMPTY
    for _ in range(9):  # the receive FIFO holds 8 bytes: a ninth is lost
        spi.write(TXDATA, 4, 0xFF)
    assert [spi.read(RXDATA, 4) for _ in range(9)] == [0xFF] * 8 + [RX_EMPTY]
    spi.write(FMT, 4, FMT_DIR_TX)  # transmit-only frames do not fill the receive FIFO
    spi.write(TXDATA, 4, 0xFF)
    assert spi.read(RXDATA, 4) == RX_EMPTY


class _Peer:
    """An SPI device that answers each byte with its complement and logs the bus."""

    def __init__(self) -> None:
        self.log: list[str] = []

    def exchange(self, mosi: int) -> int:
        self.log.append(f"{mosi:02x}")
        return mosi ^ 0xFF

    def deselect(self) -> None:
        self.log.append("cs-high")


def test_spi_chip_select_follows_csmode_and_csid() -> None:
    peer = _Peer()
    spi = SifiveSpi(2, {0: peer})
    frames = [(CSMODE, CSMODE_AUTO, 0x11), (CSMODE, CSMODE_HOLD, 0x22), (CSMODE, CSMODE_HOLD, 0x23)]
    frames += [(CSID, 1, 0x33), (CSID, 0, 0x44), (CSMODE, CSMODE_OFF, 0x55), (CSMODE, CSMODE_HOLD, 0x66)]
    received = []
    for register, value, byte in frames:
        spi.write(register, 4, value)
        spi.write(TXDATA, 4, byte)
        received.append(spi.read(RXDATA, 4))
    # AUTO drops CS after its frame; HOLD keeps it over frames until CSID or CSMODE moves it;
    # nothing on CS 1 and nothing selected with OFF: MISO floats high.
    assert peer.log == ["11", "cs-high", "22", "23", "cs-high", "44", "cs-high", "66"]
    assert received == [0xEE, 0xDD, 0xDC, 0xFF, 0xBB, 0xFF, 0x99]


def test_empty_spi_bus_reads_all_ones() -> None:
    spi = SifiveSpi(1)
    spi.write(TXDATA, 4, 0x9F)
    assert spi.read(RXDATA, 4) == 0xFF


def test_prci_plls_lock_and_resets_release() -> None:
    prci = Prci()
    prci.write(DDRPLLCFG0, 4, prci_mod.wrpll(0, 0x36, 1, 4))
    assert prci.read(DDRPLLCFG0, 4) & LOCK
    assert prci.read(DDRPLLCFG0, 4) & 0x7FFFFFFF == prci_mod.wrpll(0, 0x36, 1, 4)
    assert not prci.out_of_reset(DDR_RESETS)
    prci.write(DEVICESRESETREG, 4, 0xF)
    assert prci.out_of_reset(DDR_RESETS)


def test_ddr_comes_up_only_after_reset_release_and_start_then_filter_brings_dram_online() -> None:
    prci = Prci()
    bus = Bus(0x80000000, 1 << 20, online=False)
    ctl = DdrController(prci)
    pf = PhysicalFilter(ctl, lambda end: bus.bring_online())
    ctl.write(0, 4, 0xA01)  # DRAM class DDR4, START, resets still held
    assert not ctl.read(CTL_INT_STATUS, 4) & MC_INIT_COMPLETE
    with pytest.raises(BusError):
        bus.read(0x80000000, 4)
    prci.write(DEVICESRESETREG, 4, DDR_RESETS)
    ctl.write(0, 4, 0xA01)
    assert ctl.read(CTL_INT_STATUS, 4) & MC_INIT_COMPLETE
    assert ctl.read(0, 4) >> 8 & 0xF == 0xA
    pf.write(0, 8, 0x0F00000000000000 | ((0x80000000 + (1 << 20)) >> 2))
    bus.write(0x80000000, 4, 0x12345678)
    assert bus.read(0x80000000, 4) == 0x12345678


def test_bus_hole_between_sram_and_dram() -> None:
    bus = Bus(0x80000000, 1 << 20, online=False, sram=(0x08000000, 0x200000))
    bus.write(0x08000000, 8, 0x1122334455667788)
    assert bus.read(0x08000004, 4) == 0x11223344
    assert bus.is_ram(0x081FF000, 0x1000) and not bus.is_ram(0x081FF000, 0x1001)
    for addr in (0x08200000, 0x10000000, 0x80000000):
        with pytest.raises(BusError):
            bus.read(addr, 4)
    bus.bring_online()
    assert bus.is_ram(0x80000000, 0x1000) and not bus.is_ram(0x10000000)
    bus.write(0x800FFFF8, 8, 7)
    assert bus.read(0x800FFFF8, 8) == 7


def test_gpio_reads_back_outputs_and_the_card_detect_input() -> None:
    gpio = SifiveGpio(16, 0xFFFF & ~(1 << 15))
    gpio.write(INPUT_EN, 4, 0xFFFF)
    assert not gpio.read(INPUT_VAL, 4) & 1 << 15  # a card is in (active low)
    gpio.write(OUTPUT_VAL, 4, 0)
    gpio.write(OUTPUT_EN, 4, 1 << 12)
    assert not gpio.read(INPUT_VAL, 4) & 1 << 12
    gpio.write(OUTPUT_VAL, 4, 1 << 12)
    assert gpio.read(INPUT_VAL, 4) & 1 << 12


def test_i2c_address_without_a_device_is_not_acknowledged() -> None:
    i2c = OcoresI2c()
    i2c.write(TXR_RXR, 1, 0x4C << 1)  # the Unmatched's temperature sensor: not modelled
    i2c.write(CR_SR, 1, CR_STA | CR_WR)
    assert i2c.read(CR_SR, 1) & SR_RXACK
    i2c.write(CR_SR, 1, CR_STO)


def _i2c_byte(i2c: OcoresI2c, command: int, byte: int | None = None) -> int:
    """One OpenCores command as U-Boot's ocores driver issues it; the received byte."""
    if byte is not None:
        i2c.write(TXR_RXR, 1, byte)
    i2c.write(CR_SR, 1, command)
    assert not i2c.read(CR_SR, 1) & SR_RXACK  # acknowledged
    return i2c.read(TXR_RXR, 1)


def test_board_eeprom_holds_sifives_record_with_a_valid_crc_and_keeps_writes() -> None:
    i2c = OcoresI2c({EEPROM_ADDRESS: At24Eeprom(sifive_record())})
    # dm_i2c_read(dev, 0, buf, 37): write the word address, repeated start, read 37 bytes.
    _i2c_byte(i2c, CR_STA | CR_WR, EEPROM_ADDRESS << 1)
    _i2c_byte(i2c, CR_WR, 0)
    _i2c_byte(i2c, CR_STA | CR_WR, EEPROM_ADDRESS << 1 | 1)
    record = bytes(_i2c_byte(i2c, CR_RD) for _ in range(37))
    i2c.write(CR_SR, 1, CR_STO)
    assert record[:4] == bytes((0xF1, 0x5E, 0x50, 0x45))
    version, product, pcb, bom, variant, serial, status, mac, crc = struct.unpack("<BHBBB16sB6sI", record[4:])
    assert (version, product, pcb, chr(bom), variant, serial, status) == (1, 2, 4, "A", 0, b"HARTBEAT-EMU0001", 1)
    assert mac[0] & 0b10 and not mac[0] & 1  # locally administered, unicast: never a real board's
    assert crc == zlib.crc32(record[:-4])
    # A page write (mac write_eeprom) then a read-back from another offset.
    _i2c_byte(i2c, CR_STA | CR_WR, EEPROM_ADDRESS << 1)
    for byte in (0x10, 0xAA, 0xBB):
        _i2c_byte(i2c, CR_WR, byte)
    i2c.write(CR_SR, 1, CR_STO)
    _i2c_byte(i2c, CR_STA | CR_WR, EEPROM_ADDRESS << 1)
    _i2c_byte(i2c, CR_WR, 0x0F)
    _i2c_byte(i2c, CR_STA | CR_WR, EEPROM_ADDRESS << 1 | 1)
    assert [_i2c_byte(i2c, CR_RD) for _ in range(4)] == [record[15], 0xAA, 0xBB, record[18]]
    assert At24Eeprom().read() == 0xFF  # an erased part


def test_cache_controller_and_pcie_handshake() -> None:
    cc = CacheController()
    assert cc.read(0, 4) == CONFIG_VALUE
    cc.write(8, 4, 15)
    cc.write(8, 4, 3)
    assert cc.read(8, 4) == 15  # ways never shrink
    mgmt = PcieManagement()
    assert mgmt.read(0x898, 4) == 0
    mgmt.write(0x890, 4, 1)  # PHY0 write enable: acknowledged
    assert mgmt.read(0x898, 4) == 1
    mgmt.write(0x890, 4, 0)
    assert mgmt.read(0x898, 4) == 0


# A tiny "SPL": point mtvec at the final `j .`, then read the OTP (0x10070000, not modelled).
#   auipc t0, 0; addi t0, t0, 20; csrw mtvec, t0; lui t1, 0x10070; lw t2, 0(t1); j .
PROBE_SPL = struct.pack("<6I", 0x00000297, 0x01428293, 0x30529073, 0x10070337, 0x00032383, 0x0000006F)


def test_mask_rom_loads_the_spl_partition_into_the_lim(tmp_path: Path) -> None:
    card = write_card(tmp_path / "sd.img", PROBE_SPL)
    image = SdImage(str(card))
    assert load_spl(SpiSdCard(image), 0x200000)[: len(PROBE_SPL)] == PROBE_SPL
    assert image.read(SPL_FIRST)[: len(PROBE_SPL)] == PROBE_SPL


def test_missing_device_access_is_reported_with_address_pc_and_hart(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    card = write_card(tmp_path / "sd.img", PROBE_SPL)
    machine = Machine(
        MachineConfig(board="unmatched", smp=2, ram_size=1 << 30, msel=11, sdcard=str(card)), MemoryConsole()
    )
    machine.run(max_seconds=1.0)
    err = capfd.readouterr().err
    for hart in (0, 1):
        expected = f"bus error: load of 4 bytes at 0x10070000 (nothing there) by hart {hart} at pc=0x8000010"
        assert expected in err
        assert any(expected in line for line in machine.faults)
        assert machine.harts[hart].mcause == 5  # load access fault, as a real bus error gives
        assert machine.harts[hart].mtval == 0x10070000
    assert "Traceback" not in err


# Hart 0 points mtvec at the OTP (nothing there) and takes an ecall; hart 1 counts in s1.
#   csrr a0, mhartid; bnez a0, other; lui t0, 0x10070; csrw mtvec, t0; ecall
#   other: addi s1, s1, 1; j other
TRAP_LOOP_SPL = struct.pack("<7I", 0xF1402573, 0x00051863, 0x100702B7, 0x30529073, 0x00000073, 0x00148493, 0xFFDFF06F)


def _hung(signum: int, frame: FrameType | None) -> None:
    raise TimeoutError("a scheduling round did not end")


def test_hart_looping_on_an_unfetchable_trap_vector_yields_and_is_reported_once(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], engine: str
) -> None:
    card = write_card(tmp_path / "sd.img", TRAP_LOOP_SPL)
    machine = Machine(
        MachineConfig(board="unmatched", smp=2, ram_size=1 << 30, msel=11, sdcard=str(card)), MemoryConsole()
    )
    assert {hart.engine.name for hart in machine.harts} == {engine}  # the engine fixture chose it
    # Before the fix a round never ended: hart 0 faulted forever inside its quantum.
    previous = signal.signal(signal.SIGALRM, _hung)
    signal.alarm(60)
    try:
        for _ in range(20):
            machine.step_round()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    looping, counting = machine.harts
    assert (looping.mcause, looping.mepc, looping.pc) == (1, 0x10070000, 0x10070000)
    assert counting.x[9] > 1000  # hart 1 kept its share of every round
    assert machine.clock.mtime() > 0  # and guest time went on
    err = capfd.readouterr().err
    assert err.count("hart 0 loops on its trap vector: fetching 0x10070000 faults (cause 1)") == 1
    assert err.count("bus error: fetch of 2 bytes at 0x10070000 (nothing there) by hart 0") == 1
    assert len(machine.faults) == 2


def test_card_without_spl_partition_leaves_the_board_silent(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    card = write_card(tmp_path / "sd.img", None)
    machine = Machine(
        MachineConfig(board="unmatched", smp=2, ram_size=1 << 30, msel=11, sdcard=str(card)), MemoryConsole()
    )
    assert machine.run(max_seconds=0.3) == -1
    err = capfd.readouterr().err
    assert "mask ROM: no SPL partition (type 5B193300-FC78-40CD-8002-E86C45580B47) on the SD card" in err
    assert all(h.wfi for h in machine.harts) and machine.instructions == 0


def test_pmic_shutdown_pin_powers_the_board_off(tmp_path: Path) -> None:
    card = write_card(tmp_path / "sd.img", PROBE_SPL)
    machine = Machine(
        MachineConfig(board="unmatched", smp=2, ram_size=1 << 30, msel=11, sdcard=str(card)), MemoryConsole()
    )
    soc = machine.soc
    assert soc is not None
    soc.gpio.write(OUTPUT_VAL, 4, 1 << 2)
    soc.gpio.write(OUTPUT_EN, 4, 1 << 2)  # driven high: inactive
    with pytest.raises(MachineExit) as exc:
        soc.gpio.write(OUTPUT_VAL, 4, 0)  # low: the PMIC shuts the board down
    assert exc.value.status == 0


def _pmic_write(i2c: OcoresI2c, reg: int, value: int) -> None:
    """OpenSBI's i2c_adapter_reg_write: start + address, register, value, stop."""
    for byte, command in ((0x58 << 1, CR_STA | CR_WR), (reg, CR_WR), (value, CR_WR | CR_STO)):
        i2c.write(TXR_RXR, 1, byte)
        i2c.write(CR_SR, 1, command)
        assert not i2c.read(CR_SR, 1) & SR_RXACK


def _pmic_read(i2c: OcoresI2c, reg: int) -> int:
    """Register address written, then a repeated start and one byte read."""
    for byte, command in ((0x58 << 1, CR_STA | CR_WR), (reg, CR_WR), ((0x58 << 1) | 1, CR_STA | CR_WR)):
        i2c.write(TXR_RXR, 1, byte)
        i2c.write(CR_SR, 1, command)
    i2c.write(CR_SR, 1, CR_RD | CR_STO)
    return i2c.read(TXR_RXR, 1)


def test_pmic_answers_opensbi_and_shuts_down_or_restarts_the_board() -> None:
    i2c = OcoresI2c({0x58: Da9063()})
    _pmic_write(i2c, 0x00, 0x02)
    assert _pmic_read(i2c, 0x00) == 0x02
    assert _pmic_read(i2c, 0x81) == 0x61  # the DA9063's device ID
    with pytest.raises(MachineExit) as exc:
        _pmic_write(i2c, 0x13, 1 << 1)  # CONTROL_F.SHUTDOWN
    assert exc.value.status == 0
    _pmic_write(i2c, 0x13, 1 << 2)  # CONTROL_F.WAKEUP, then CONTROL_A standby: a restart
    with pytest.raises(MachineReset):
        _pmic_write(i2c, 0x0E, (1 << 6) | (1 << 5) | (1 << 3))
